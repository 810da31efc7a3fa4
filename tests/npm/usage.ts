// Type-checked by `tsc --noEmit -p tests/npm` (tests/e2e/npm.test.mjs): how TypeScript users call
// reftrack. The @ts-expect-error lines fail the check if the types become too loose.
import { init, partnerKey, clickId, signup, captureForms, consent, flush } from 'reftrack';
import type { ReftrackOptions, SignupResult } from 'reftrack';
import type {} from 'reftrack/globals';

const options: ReftrackOptions = { publicKey: 'pk_1', cookieDays: 30, attribution: 'first', autoCapture: 'form.signup' };

async function main(): Promise<void> {
  await init(options);
  await init({ debug: true }, new URL('/assets/reftrack_bg.wasm', location.href));
  const key: string | null = partnerKey();
  const xid: string | null = clickId();
  const result: SignupResult = await signup({ customer_key: 42, email: 'a@b.co', meta: { plan: 'pro', seats: 3 } });
  if (result.status === 'queued' || result.status === 'created') console.log(result.event_id ?? '', key, xid);
  captureForms();
  consent(false);
  await flush();

  // The script-tag build's globals.
  window.growsumo.data.email = 'jane@example.com';
  const viaGrowsumo: SignupResult = await window.growsumo.createSignup((r) => console.log(r.ok));
  window.po('customers', 'signup', { data: { key: 'cus_1', partner: { key: 'p' } } });
  console.log(viaGrowsumo, window.reftrack.version);

  // @ts-expect-error: attribution is "first" or "last"
  await init({ attribution: 'middle' });
  // @ts-expect-error: meta values are flat
  await signup({ customer_key: 'c', meta: { nested: { a: 1 } } });
  // @ts-expect-error: partnerKey is synchronous
  await partnerKey().then(() => 0);
}
void main;
