import { aDevice, checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';
import { redisExpected } from '../support/redis';
import { signAppToken } from '../../src/auth/embedded-issuer';
import { generateKeyPairSync } from 'node:crypto';
import { addToBlocklist, toBlocklistEntry } from '../../src/risk/blocklist';

/** Every 4xx code of the contract, provoked on purpose: status, type, code and param, never a stack trace. */
describe('bad input gets a clear JSON error', () => {
  let test: TestGateway;
  let token: string;

  beforeAll(async () => {
    test = await startTestGateway({ env: { RATE_LIMIT_USER_PER_MINUTE: '1000' }, captureLogs: true });
    token = await test.token('careless');
    await addToBlocklist(test.gateway.db, toBlocklistEntry('device', 'stolen-phone', test.gateway.blindIndex));
  });
  afterAll(() => test.stop());

  const post = (body: unknown, headers: Record<string, string> = {}) => {
    const request = test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey());
    for (const [name, value] of Object.entries(headers)) request.set(name, value);
    return request.send(body as object);
  };
  const valid = () => ({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: 'careless-phone' }) });

  const expired = async () =>
    signAppToken(
      { privateKeyPem: test.gateway.keys.embeddedJwt!.privateKeyPem, iss: test.gateway.config.auth.issuer, aud: test.gateway.config.auth.audience },
      { sub: 'careless', expiresInSeconds: -60 },
    );
  const foreignSigned = async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return signAppToken(
      { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), iss: test.gateway.config.auth.issuer, aud: test.gateway.config.auth.audience },
      { sub: 'careless' },
    );
  };

  type Case = [string, () => Promise<{ status: number; body: { error: Record<string, unknown> }; headers: Record<string, string> }>, number, string, string, string | undefined];
  const cases: Case[] = [
    ['missing sku', () => post({ ...valid(), sku: undefined }), 400, 'invalid_request_error', 'parameter_missing', 'sku'],
    ['missing device id', () => post({ ...valid(), device: { ...aDevice(), id: undefined } }), 400, 'invalid_request_error', 'parameter_missing', 'device.id'],
    ['quantity out of range', () => post({ ...valid(), quantity: 100 }), 400, 'invalid_request_error', 'parameter_invalid', 'quantity'],
    ['quantity as a float', () => post({ ...valid(), quantity: 1.5 }), 400, 'invalid_request_error', 'parameter_invalid', 'quantity'],
    ['unknown provider', () => post({ ...valid(), provider: 'paypal' }), 400, 'invalid_request_error', 'parameter_invalid', 'provider'],
    ['provider not enabled here', () => post({ ...valid(), provider: 'stripe' }), 400, 'invalid_request_error', 'parameter_invalid', 'provider'],
    ['latitude out of range', () => post({ ...valid(), location: { lat: 91, lon: 0 } }), 400, 'invalid_request_error', 'parameter_invalid', 'location.lat'],
    ['a client-sent price', () => post({ ...valid(), amount: 1 }), 400, 'invalid_request_error', 'parameter_unknown', 'amount'],
    ['unknown sku', () => post({ ...valid(), sku: 'gems_999999' }), 400, 'invalid_request_error', 'unknown_sku', 'sku'],
    ['a card number in a field', () => post({ ...valid(), device: aDevice({ model: '4242 4242 4242 4242' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.model'],
    ['a dashed card number in an unknown field', () => post({ ...valid(), card: '5555-5555-5555-4444' }), 400, 'invalid_request_error', 'card_data_not_accepted', 'card'],
    ['a card number with two spaces between groups', () => post({ ...valid(), device: aDevice({ model: '4242  4242  4242  4242' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.model'],
    ['a card number with no-break spaces', () => post({ ...valid(), device: aDevice({ os_version: '4242\u00a04242\u00a04242\u00a04242' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.os_version'],
    ['a card number in full-width digits', () => post({ ...valid(), device: aDevice({ model: '４２４２ ４２４２ ４２４２ ４２４２' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.model'],
    ['a card number as the device id', () => post({ ...valid(), device: aDevice({ id: '4111111111111111' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.id'],
    ['an Amex number as the device id (not an IMEI)', () => post({ ...valid(), device: aDevice({ id: '378282246310005' }) }), 400, 'invalid_request_error', 'card_data_not_accepted', 'device.id'],
    ['a device id with a space', () => post({ ...valid(), device: aDevice({ id: 'my phone' }) }), 400, 'invalid_request_error', 'parameter_invalid', 'device.id'],
    ['a device id with a NUL byte', () => post({ ...valid(), device: aDevice({ id: 'phone\u0000one' }) }), 400, 'invalid_request_error', 'parameter_invalid', 'device.id'],
    ['a card number in a path with a malformed escape', () => test.http.get('/v1/orders/4111%201111%201111%201111%ZZ').set('Authorization', `Bearer ${token}`), 400, 'invalid_request_error', 'card_data_not_accepted', 'path'],
    ['malformed JSON', () => test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey()).set('Content-Type', 'application/json').send('{"sku": '), 400, 'invalid_request_error', 'invalid_json', 'body'],
    ['missing Idempotency-Key', () => test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).send(valid()), 400, 'invalid_request_error', 'parameter_missing', 'Idempotency-Key'],
    ['an Idempotency-Key over 255 characters', () => post(valid(), { 'Idempotency-Key': 'k'.repeat(256) }), 400, 'invalid_request_error', 'parameter_invalid', 'Idempotency-Key'],
    ['bad starting_after', () => test.http.get('/v1/orders?starting_after=pay_nope').set('Authorization', `Bearer ${token}`), 400, 'invalid_request_error', 'parameter_invalid', 'starting_after'],
    ['limit over 100', () => test.http.get('/v1/orders?limit=101').set('Authorization', `Bearer ${token}`), 400, 'invalid_request_error', 'parameter_invalid', 'limit'],
    ['no token', () => test.http.get('/v1/orders'), 401, 'authentication_error', 'token_missing', undefined],
    ['a garbage token', () => test.http.get('/v1/orders').set('Authorization', 'Bearer not.a.jwt'), 401, 'authentication_error', 'token_invalid', undefined],
    ['a token signed by someone else', async () => test.http.get('/v1/orders').set('Authorization', `Bearer ${await foreignSigned()}`), 401, 'authentication_error', 'token_invalid', undefined],
    ['an expired token', async () => test.http.get('/v1/orders').set('Authorization', `Bearer ${await expired()}`), 401, 'authentication_error', 'token_expired', undefined],
    ['a blocklisted device', () => post({ ...valid(), device: aDevice({ id: 'stolen-phone' }) }), 402, 'payment_error', 'payment_blocked', undefined],
    ['a card number in the path', () => test.http.get('/v1/orders/4111%201111%201111%201111').set('Authorization', `Bearer ${token}`), 400, 'invalid_request_error', 'card_data_not_accepted', 'path'],
    ['a card number in the query', () => test.http.get('/v1/orders?starting_after=4242424242424242').set('Authorization', `Bearer ${token}`), 400, 'invalid_request_error', 'card_data_not_accepted', 'starting_after'],
    ['a corrupt gzip body', () => test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey()).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('not gzip at all'), 400, 'invalid_request_error', 'invalid_body', 'body'],
    ['JSON nested 20,000 levels deep', () => test.http.post('/v1/checkouts').set('Idempotency-Key', newKey()).set('Content-Type', 'application/json').send(`{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`), 400, 'invalid_request_error', 'parameter_invalid', 'body'],
    ['a minor without guardian consent', async () => checkout(test, await test.token('young-one', { minor: true }), { device: aDevice({ id: 'young-phone' }) }), 403, 'permission_error', 'guardian_consent_required', undefined],
    ['completing a payment twice', async () => {
      const created = await post(valid());
      const complete = () => test.http.post(`/v1/sandbox/payments/${created.body.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'failed' });
      await complete();
      return complete();
    }, 409, 'conflict', 'invalid_state_transition', undefined],
    ['an unknown order', () => test.http.get('/v1/orders/pay_missing').set('Authorization', `Bearer ${token}`), 404, 'not_found', 'resource_missing', 'id'],
    ['an unknown route', () => test.http.get('/v1/nothing-here'), 404, 'not_found', 'resource_missing', 'path'],
    ['a body over 100 kB', () => post({ ...valid(), padding: 'x'.repeat(110_000) }), 413, 'invalid_request_error', 'body_too_large', 'body'],
    ['a form-encoded body', () => test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey()).type('form').send('sku=gems_600'), 415, 'invalid_request_error', 'unsupported_media_type', 'Content-Type'],
  ];

  it.each(cases)('%s', async (_label, send, status, type, code, param) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error).toMatchObject({ type, code });
    expect(res.body.error.param).toBe(param);
    expect(typeof res.body.error.message).toBe('string');
    expect(res.body.error.request_id).toBe(res.headers['x-request-id']);
    expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|\.ts:\d+/);
  });

  it('never echoes a refused card number, in the body or the logs', async () => {
    const res = await post({ ...valid(), device: aDevice({ model: '4111111111111111' }) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toContain('4111111111111111');
    expect(test.logs.length).toBeGreaterThan(0);
    expect(test.logs.join('\n')).not.toContain('4111111111111111');
  });

  it('never logs a card number in a path, however it is percent-encoded', async () => {
    const before = test.logs.length;
    for (const path of ['/v1/orders/4242%204242%204242%204242', '/v1/orders/%34%32%34%32%34%32%34%32%34%32%34%32%34%32%34%32', '/nope/4111-1111-1111-1111']) {
      expect((await test.http.get(path).set('Authorization', `Bearer ${token}`)).status).toBeGreaterThanOrEqual(400);
    }
    const lines = test.logs.slice(before).join('\n');
    expect(lines).toContain('[card number removed]');
    expect(lines.replace(/%20|%34|%32|[ -]/g, '')).not.toMatch(/4242424242424242|4111111111111111/);
  });

  it('keeps request logs to method, path and status: no query string, no headers, no client address', async () => {
    const before = test.logs.length;
    await test.http
      .get('/v1/orders?limit=5&starting_after=pay_secretcursor')
      .set('Authorization', `Bearer ${token}`)
      .set('User-Agent', 'KalosApp/1.0 (iPhone15,2; iOS 17.4)')
      .set('X-Forwarded-For', '198.51.100.23');
    const lines = test.logs.slice(before).join('\n');
    expect(lines).toContain('"path":"/v1/orders"');
    for (const secret of ['secretcursor', 'iPhone15,2', '198.51.100.23', 'Bearer', '127.0.0.1']) expect(lines).not.toContain(secret);
  });

  it('names the kept payment when a checkout is refused, so the app can ask why', async () => {
    const res = await post({ ...valid(), device: aDevice({ id: 'stolen-phone' }) });
    expect(res.status).toBe(402);
    expect(res.body.error.payment_id).toMatch(/^pay_/);
    const decision = await test.http.get(`/v1/orders/${res.body.error.payment_id}/decision`).set('Authorization', `Bearer ${token}`);
    expect(decision.body).toMatchObject({ decision: 'block', automated: true });
  });

  it('accepts digit runs that are not card numbers (fail the Luhn check or too short)', async () => {
    const res = await post({ ...valid(), device: aDevice({ id: 'careless-phone', model: '4111111111111112', os_version: '123456789012' }) });
    expect(res.status).toBe(201);
  });

  it.each([
    ['an IMEI', '490154203237518'],
    ['an IDFV whose digits after a letter pass the Luhn check', 'E621E1F8-C36C-495A-A456-426614174007'],
    ['an Android ID', '9774d56d682e549c'],
    ['a base64 hash', 'q83vEjRWeJq8/+3vASNFZ4k='],
  ])('accepts %s as device.id', async (_label, id) => {
    const res = await post({ ...valid(), device: aDevice({ id }) });
    expect(res.status).toBe(201);
  });

  it('never echoes a card number in an error message, whatever field or path it came in', async () => {
    for (const res of [
      await test.http.get('/nope/4111%201111%201111%201111%ZZ'),
      await test.http.get('/nope/%EF%BC%94111111111111111'),
      await post({ ...valid(), sku: '4111\u00a01111\u00a01111\u00a01111' }),
    ]) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      const body = JSON.stringify(res.body).replace(/%20|\\u00a0|[^0-9]/gi, '');
      expect(body).not.toContain('4111111111111111');
    }
  });

  it('answers 422 idempotency_key_reused for one key with two bodies', async () => {
    const key = newKey();
    expect((await checkout(test, token, { device: aDevice({ id: 'careless-phone' }) }, key)).status).toBe(201);
    const res = await checkout(test, token, { device: aDevice({ id: 'careless-phone' }), quantity: 3 }, key);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused', param: 'Idempotency-Key' });
  });
});

describe('rate limits', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway({ env: { RATE_LIMIT_USER_PER_MINUTE: '3' } });
  });
  afterAll(() => test.stop());

  it('answers 429 rate_limited with Retry-After once a user spends the per-minute budget', async () => {
    const token = await test.token('hasty');
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 4; i++) {
      const res = await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`);
      statuses.push(res.status);
      limited = res;
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(limited!.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    const other = await test.http.get('/v1/orders').set('Authorization', `Bearer ${await test.token('patient')}`);
    expect(other.status).toBe(200);
  });
});

/**
 * A checkout spends its per-user limit beside the risk counters (one Redis round trip) instead of in the
 * middleware: the budgets must still be the ones every other route spends, each spent once per request,
 * a refused checkout must store nothing, and requests that never get that far must still meet the IP's
 * limit. In-process limiters, and Redis ones when the run has Redis.
 */
const limiterSetups: Array<[string, { redis?: boolean }]> = [['in-process limiters', {}]];
if (redisExpected()) limiterSetups.push(['Redis limiters', { redis: true }]);

describe.each(limiterSetups)('checkout rate limits (%s)', (_name, options) => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway({ ...options, env: { RATE_LIMIT_USER_PER_MINUTE: '3', RATE_LIMIT_IP_PER_MINUTE: '5', TRUST_PROXY: '1' } });
  });
  afterAll(() => test.stop());

  const checkoutFrom = (ip: string, token: string) =>
    test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey()).set('X-Forwarded-For', ip)
      .send({ sku: 'gems_600', provider: 'sandbox', device: aDevice() });
  const paymentsOf = async (sub: string) =>
    (await test.gateway.db.many('SELECT id FROM payments WHERE user_hash = $1', [test.gateway.vault.userHash(sub)])).length;

  it("shares the user's budget with the other routes and refuses before anything is stored", async () => {
    const token = await test.token('checkout-hasty');
    const orders = () => test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', '198.51.100.7');
    expect((await orders()).status).toBe(200);
    expect((await orders()).status).toBe(200);
    expect((await checkoutFrom('198.51.100.7', token)).status).toBe(201);

    const limited = await checkoutFrom('198.51.100.7', token);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(await paymentsOf('checkout-hasty')).toBe(1);
  });

  it("spends the IP's budget once per checkout", async () => {
    // Five per minute for one address: six users' checkouts from it, the sixth refused.
    const statuses: number[] = [];
    for (const sub of ['ip-a', 'ip-b', 'ip-c', 'ip-d', 'ip-e', 'ip-f']) {
      statuses.push((await checkoutFrom('203.0.113.9', await test.token(sub))).status);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    expect(await paymentsOf('ip-f')).toBe(0);
  });

  it("holds a flood of unauthenticated checkouts to the IP's budget", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await test.http.post('/v1/checkouts').set('X-Forwarded-For', '192.0.2.44').send({ sku: 'gems_600' })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });

  it('refuses a checkout from an address past its budget before any work: no statement, no point of the user spent', async () => {
    for (const sub of ['busy-a', 'busy-b', 'busy-c', 'busy-d', 'busy-e']) expect((await checkoutFrom('192.0.2.47', await test.token(sub))).status).toBe(201);
    const token = await test.token('behind-the-busy-nat');
    const before = test.gateway.db.roundTrips.count;
    expect((await checkoutFrom('192.0.2.47', token)).status).toBe(429);
    expect(test.gateway.db.roundTrips.count - before).toBe(0);
    // The user's own budget (3) is whole: three checkouts from another address go through.
    const elsewhere = [];
    for (let i = 0; i < 3; i++) elsewhere.push((await checkoutFrom(`192.0.2.${60 + i}`, token)).status);
    expect(elsewhere).toEqual([201, 201, 201]);
  });

  it("holds a flood of malformed checkouts to the IP's budget", async () => {
    const token = await test.token('checkout-malformed');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', newKey())
        .set('X-Forwarded-For', '192.0.2.45').set('Content-Type', 'application/json').send('{"sku": ');
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429]);
  });

  it("spends the IP's budget on a replay as on a new checkout", async () => {
    for (const sub of ['replay-a', 'replay-b', 'replay-c']) expect((await checkoutFrom('192.0.2.46', await test.token(sub))).status).toBe(201);
    const token = await test.token('checkout-replayer');
    const key = newKey();
    const replay = () => test.http.post('/v1/checkouts').set('Authorization', `Bearer ${token}`).set('Idempotency-Key', key)
      .set('X-Forwarded-For', '192.0.2.46').send({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: 'replayer' }) });
    // the IP's fourth and fifth points, then none left (the user has spent two of their three)
    const statuses = [(await replay()).status, (await replay()).status, (await replay()).status];
    expect(statuses).toEqual([201, 201, 429]);
  });
});
