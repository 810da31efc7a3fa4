// A small load generator for the collector: `clients` concurrent keep-alive connections posting
// distinct signups for `seconds`, counting the acknowledged ones (2xx).
import http from 'node:http';

export async function load({ port, clients = 32, seconds = 10, publicKey = 'pk_bench_load' }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const end = Date.now() + seconds * 1000;
  let acknowledged = 0;
  let failed = 0;
  let n = 0;
  const post = (body) => new Promise((resolve) => {
    const request = http.request({
      host: '127.0.0.1', port, path: '/v1/signups', method: 'POST', agent,
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    });
    request.on('error', () => resolve(0));
    request.end(body);
  });
  async function client() {
    while (Date.now() < end) {
      const i = n++;
      const body = JSON.stringify({
        event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        type: 'signup', public_key: publicKey, customer_key: `load_${i}`, email: `load${i}@example.com`,
        partner_key: 'alex-smith', xid: 'clk_load', origin: 'bench', page_url: 'http://bench/', referrer: null,
        user_agent: 'bench', sub_ids: [], meta: {}, created_at: new Date().toISOString(),
      });
      const status = await post(body);
      if (status >= 200 && status < 300) acknowledged++;
      else failed++;
    }
  }
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, client));
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  return { acknowledged, failed, elapsed, perSecond: acknowledged / elapsed };
}
