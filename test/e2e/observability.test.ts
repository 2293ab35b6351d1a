import net from 'node:net';
import { aDevice, checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';

/** What an operator sees: Prometheus series for the money paths, and log lines that say what happened. */
describe('metrics and logs', () => {
  let test: TestGateway;
  let metrics: string;
  let paymentId: string;
  beforeAll(async () => {
    test = await startTestGateway({ captureLogs: true, env: { RATE_LIMIT_USER_PER_MINUTE: '5' } });
    const alice = await test.token('obs-alice');
    const key = newKey();
    const device = aDevice({ id: 'obs-alice-phone' });
    const created = await checkout(test, alice, { device }, key);
    expect(created.status).toBe(201);
    paymentId = created.body.id;
    expect((await checkout(test, alice, { device }, key)).status).toBe(201);
    expect((await checkout(test, alice, { device, quantity: 2 }, key)).body.error.code).toBe('idempotency_key_reused');
    const paid = await test.http.post(`/v1/sandbox/payments/${paymentId}/events`).set('Authorization', `Bearer ${alice}`).send({ type: 'payment.succeeded' });
    expect(paid.body.status).toBe('succeeded');
    const bob = await test.token('obs-bob');
    const statuses = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await test.http.get('/v1/catalog').set('Authorization', `Bearer ${bob}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    metrics = (await test.http.get('/metrics')).text;
  });
  afterAll(() => test.stop());

  const lines = () => test.logs.map((line) => JSON.parse(line) as Record<string, any>);
  /** Sends `request` as written, for request lines supertest would not send; resolves with the whole answer. */
  const rawRequest = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(test.url).port), '127.0.0.1', () => socket.end(request));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk)).on('end', () => resolve(answer)).on('error', reject);
    });
  const series = (name: string, labels: string) => {
    const match = new RegExp(`^${name}\\{${labels.replace(/[{}()|[\]\\.+*?^$]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(metrics);
    return match ? Number(match[1]) : undefined;
  };

  it('counts checkouts by outcome, idempotency replays and conflicts', () => {
    expect(series('kalos_checkouts_total', 'provider="sandbox",outcome="ok"')).toBe(2);
    expect(series('kalos_checkouts_total', 'provider="sandbox",outcome="idempotency_key_reused"')).toBe(1);
    expect(series('kalos_idempotency_total', 'result="key_reused"')).toBe(1);
    expect(series('kalos_idempotency_total', 'result="replayed"')).toBe(1);
  });

  it('counts risk decisions and provider calls, and measures webhook lag, rate-limit refusals and the pool', () => {
    // Each checkout request that reaches the engine is decided (the replay and the refused one too).
    const decided = lines().filter((line) => line.msg === 'risk decision').length;
    expect(decided).toBeGreaterThanOrEqual(1);
    expect(series('kalos_risk_decisions_total', 'decision="allow",fail_mode="false"')).toBe(decided);
    expect(series('kalos_provider_call_duration_seconds_count', 'provider="sandbox",operation="createSession",outcome="ok"')).toBe(1);
    expect(series('kalos_webhook_lag_seconds_count', 'provider="sandbox"')).toBe(1);
    expect(series('kalos_rate_limit_refusals_total', 'scope="user"')).toBe(1);
    expect(series('kalos_db_pool_connections', 'state="open"')).toBeGreaterThanOrEqual(1);
    expect(metrics).not.toMatch(/pay_|obs-alice|obs-bob/);
  });

  it('logs one line per risk decision: decision, score and rules, with the payment id and no personal data', () => {
    const decisions = lines().filter((line) => line.msg === 'risk decision' && line.paymentId === paymentId);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ paymentId, decision: 'allow', score: expect.any(Number), failMode: false, rules: [], shadowRules: expect.any(Array) });
  });

  it('puts the error code on every 4xx line, the payment id where known, and the instance on every line', () => {
    const requests = lines().filter((line) => line.res?.statusCode);
    const errors = requests.filter((line) => line.res.statusCode >= 400);
    expect(errors.map((line) => [line.res.statusCode, line.errorCode])).toEqual([
      [422, 'idempotency_key_reused'],
      [429, 'rate_limited'],
    ]);
    expect(requests.filter((line) => line.req.path === '/v1/checkouts').map((line) => line.paymentId)).toEqual([paymentId, paymentId, undefined]);
    expect(lines().every((line) => typeof line.instance === 'string' && line.instance.includes(':'))).toBe(true);
  });

  it('writes one line per request: its id, method, path, status and time, and nothing else', () => {
    const created = lines().find((line) => line.req?.path === '/v1/checkouts' && line.res?.statusCode === 201);
    expect(Object.keys(created!).sort()).toEqual(['instance', 'level', 'msg', 'paymentId', 'req', 'requestId', 'res', 'responseTime', 'service', 'time']);
    expect(created).toMatchObject({ level: 30, msg: 'request completed', paymentId, req: { id: created!.requestId, method: 'POST' }, res: { statusCode: 201 } });
    expect(Object.keys(created!.req).sort()).toEqual(['id', 'method', 'path']);
    expect(created!.responseTime).toEqual(expect.any(Number));
  });

  it('logs only the path of an absolute-form request target, never its credentials or host', async () => {
    const before = test.logs.length;
    const answer = await rawRequest('GET http://ops:hunter2@internal.example/healthz?probe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    const line = test.logs.slice(before).map((text) => JSON.parse(text) as Record<string, any>).find((entry) => entry.msg === 'request completed');
    expect(line?.req).toMatchObject({ method: 'GET', path: '/healthz' });
    expect(test.logs.slice(before).join('\n')).not.toMatch(/hunter2|internal\.example|probe/);
  });

  it('logs a request whose client left before its body arrived as aborted', async () => {
    const before = test.logs.length;
    const socket = net.connect(Number(new URL(test.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/checkouts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sku":');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const aborted = () => test.logs.slice(before).map((line) => JSON.parse(line) as Record<string, any>).find((line) => line.msg === 'request aborted');
    for (let i = 0; i < 50 && !aborted(); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(aborted()).toMatchObject({ level: 30, req: { method: 'POST', path: '/v1/checkouts' } });
  });

  it('names the request and the payment on the webhook’s own lines', () => {
    const webhook = lines().find((line) => line.msg === 'webhook processed');
    const webhookRequest = lines().find((line) => line.req?.path === '/v1/webhooks/sandbox' && line.res);
    expect(webhook).toMatchObject({ provider: 'sandbox', paymentId, requestId: webhookRequest!.req.id });
  });

  it('writes no user id, device id or token into any line', () => {
    const all = test.logs.join('\n');
    for (const secret of ['obs-alice', 'obs-bob', 'obs-alice-phone', 'Bearer', 'eyJ']) expect(all).not.toContain(secret);
  });
});
