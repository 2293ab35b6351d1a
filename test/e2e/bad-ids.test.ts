import { startTestGateway, TestGateway } from '../support/gateway';

/**
 * Every id a request names is checked against the shape of our ids (prefix, then letters and digits)
 * before it reaches SQL, so a NUL byte or any other stray character is the caller's 400, never a 500.
 */
describe('malformed ids are refused before they reach the database', () => {
  let test: TestGateway;
  let token: string;
  beforeAll(async () => {
    test = await startTestGateway({ env: { RATE_LIMIT_USER_PER_MINUTE: '1000' } });
    token = await test.token('id-prober');
  });
  afterAll(() => test.stop());

  const malformed = [
    ['a NUL byte', 'pay_abc%00def'],
    ['only a NUL byte', '%00'],
    ['a quote and spaces', 'pay_x%27%20OR%20%271%27%3D%271'],
    ['a non-ASCII letter', 'pay_caf%C3%A9'],
    ['another type’s prefix', 'evt_3kTzQ8vYf2LmN0aBcD1e'],
    ['an upper-case prefix', 'PAY_3kTzQ8vYf2LmN0aBcD1e'],
    ['65 characters after the prefix', `pay_${'a'.repeat(65)}`],
  ];
  const routes: [string, (id: string) => Promise<{ status: number; body: { error: Record<string, unknown> } }>, string][] = [
    ['GET /v1/orders/{id}', (id) => test.http.get(`/v1/orders/${id}`).set('Authorization', `Bearer ${token}`), 'id'],
    ['GET /v1/orders/{id}/decision', (id) => test.http.get(`/v1/orders/${id}/decision`).set('Authorization', `Bearer ${token}`), 'id'],
    ['POST /v1/checkouts/{id}/verify', (id) => test.http.post(`/v1/checkouts/${id}/verify`).set('Authorization', `Bearer ${token}`).send({ step_up_token: 'x' }), 'id'],
    ['POST /v1/sandbox/payments/{id}/complete', (id) => test.http.post(`/v1/sandbox/payments/${id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' }), 'id'],
    ['POST /v1/sandbox/payments/{id}/events', (id) => test.http.post(`/v1/sandbox/payments/${id}/events`).set('Authorization', `Bearer ${token}`).send({ type: 'payment.processing' }), 'id'],
    ['GET /v1/orders?starting_after=', (id) => test.http.get(`/v1/orders?starting_after=${id}`).set('Authorization', `Bearer ${token}`), 'starting_after'],
  ];
  const cases = routes.flatMap(([route, send, param]) => malformed.map(([label, id]) => [route, label, id, send, param] as const));

  it.each(cases)('%s with %s answers 400 parameter_invalid', async (_route, _label, id, send, param) => {
    const res = await send(id);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid', param });
  });

  it('still answers 404 for a well-formed id that names no payment of the caller', async () => {
    const res = await test.http.get('/v1/orders/pay_3kTzQ8vYf2LmN0aBcD1e').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'resource_missing', param: 'id' });
  });
});
