// Signs Stripe events for the webhook tests with Stripe's own library, offline: reads a JSON array
// of event payloads on standard input, writes a JSON array of `Stripe-Signature` headers. Each
// header is made by `stripe.webhooks.generateTestHeaderString` and checked with
// `stripe.webhooks.constructEvent`, so a payload Stripe's library would not accept fails here.
// Usage: node stripe-sign.cjs SECRET [TIMESTAMP]
const Stripe = require('stripe');

const stripe = new Stripe('sk_test_offline');
const [secret, timestamp] = process.argv.slice(2);
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const headers = JSON.parse(input).map((payload) => {
    const header = stripe.webhooks.generateTestHeaderString({
      payload,
      secret,
      timestamp: timestamp ? Number(timestamp) : undefined,
    });
    if (!timestamp) stripe.webhooks.constructEvent(payload, header, secret);
    return header;
  });
  process.stdout.write(JSON.stringify(headers));
});
