import { ownFact, recordFacts } from '../../src/payments/fact-journal';
import { completeIdempotencyKey, idempotencyScope } from '../../src/payments/idempotency';
import { checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';
import { historyOf, postSandboxWebhook } from '../support/sandbox-webhooks';

describe('duplicates and races', () => {
  let test: TestGateway;

  beforeAll(async () => {
    test = await startTestGateway({ env: { IDEMPOTENCY_WAIT_MS: '1500' } });
  });
  afterAll(() => test.stop());

  const paymentCount = async (userToken: string) =>
    (await test.http.get('/v1/orders?limit=100').set('Authorization', `Bearer ${userToken}`)).body.data.length;

  it('20 identical checkouts at once on one key create one payment, and all 20 get the same body', async () => {
    const token = await test.token('racer-1');
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 20 }, () => checkout(test, token, {}, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    const bodies = new Set(responses.map((r) => JSON.stringify(r.body)));
    expect(bodies.size).toBe(1);
    expect(await paymentCount(token)).toBe(1);
    const rows = await test.gateway.db.many('SELECT id FROM payments WHERE id = $1', [responses[0].body.id]);
    expect(rows).toHaveLength(1);
  });

  it('the same key replays the stored answer later, and another user may use the same key independently', async () => {
    const token = await test.token('racer-2');
    const key = newKey();
    const first = await checkout(test, token, {}, key);
    const again = await checkout(test, token, {}, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const other = await checkout(test, await test.token('racer-2b'), {}, key);
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('two different bodies racing on one key: one wins, the other gets 422 idempotency_key_reused', async () => {
    const token = await test.token('racer-3');
    const key = newKey();
    const [a, b] = await Promise.all([checkout(test, token, { quantity: 1 }, key), checkout(test, token, { quantity: 2 }, key)]);
    expect([a.status, b.status].sort()).toEqual([201, 422]);
    const loser = a.status === 422 ? a : b;
    expect(loser.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_reused', param: 'Idempotency-Key' });
    expect(await paymentCount(token)).toBe(1);
  });

  it('10 concurrent deliveries of one signed webhook make one transition and one history row', async () => {
    const token = await test.token('racer-4');
    const payment = (await checkout(test, token)).body;
    const event = { id: 'evt_concurrent_1', type: 'payment.succeeded' as const, paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    const deliveries = await Promise.all(Array.from({ length: 10 }, () => postSandboxWebhook(test, event)));
    expect(deliveries.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'succeeded']);
    const events = await test.gateway.db.many('SELECT outcome FROM webhook_events WHERE event_id = $1', [event.id]);
    expect(events).toEqual([{ outcome: 'applied' }]);
  });

  it('a success and a failure racing for one payment leave exactly one of them applied', async () => {
    const token = await test.token('racer-5');
    const payment = (await checkout(test, token)).body;
    const base = { paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    await Promise.all([
      postSandboxWebhook(test, { ...base, id: 'evt_race_ok', type: 'payment.succeeded' }),
      postSandboxWebhook(test, { ...base, id: 'evt_race_ko', type: 'payment.failed' }),
    ]);
    const history = await historyOf(test, payment.id);
    // Either order is legal (a failure may be followed by a late success), but never success then failure.
    expect([['requires_payment', 'succeeded'], ['requires_payment', 'failed', 'succeeded']]).toContainEqual(history);
  });

  /** Puts a finished checkout back into the state a crash between storing the payment and opening its session leaves. */
  async function crashAfterStoringPayment(token: string, key: string, lease: 'expired' | 'held') {
    const first = await checkout(test, token, {}, key);
    const userHash = test.gateway.vault.userHash((await test.gateway.tokens.verifyAppUser(token)).id);
    await test.gateway.db.many('UPDATE payments SET provider_ref = NULL, next_action = NULL WHERE id = $1', [first.body.id]);
    await test.gateway.db.many(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL,
              locked_until = now() + make_interval(secs => $3) WHERE user_hash = $1 AND key_hash = $2`,
      [userHash, test.gateway.blindIndex.hash('idempotency_key', key), lease === 'expired' ? -1 : 3600],
    );
    return first.body.id as string;
  }

  it('a retry after a request died half-way resumes the same payment and opens its session once', async () => {
    const token = await test.token('racer-6');
    const key = newKey();
    const paymentId = await crashAfterStoringPayment(token, key, 'expired');
    const retries = await Promise.all([checkout(test, token, {}, key), checkout(test, token, {}, key)]);
    expect(retries.map((r) => r.status)).toEqual([201, 201]);
    expect(retries.map((r) => r.body.id)).toEqual([paymentId, paymentId]);
    expect(retries[0].body.next_action).toMatchObject({ type: 'sandbox_confirm' });
    expect(await paymentCount(token)).toBe(1);
  });

  it('a retry of a half-done checkout whose payment expired meanwhile answers with the canceled payment, opening nothing', async () => {
    const token = await test.token('racer-8');
    const key = newKey();
    const paymentId = await crashAfterStoringPayment(token, key, 'expired');
    await test.gateway.db.transaction((tx) => recordFacts(tx, paymentId, [ownFact('expired', 'gateway:expired')]));
    const retried = await checkout(test, token, {}, key);
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ id: paymentId, status: 'canceled', next_action: null });
    const row = await test.gateway.db.one('SELECT provider_ref FROM payments WHERE id = $1', [paymentId]);
    expect(row).toEqual({ provider_ref: null });
  });

  it('a request whose lease lapsed cannot overwrite the answer of the request that took over', async () => {
    const token = await test.token('racer-9');
    const key = newKey();
    await crashAfterStoringPayment(token, key, 'expired');
    const taken = await checkout(test, token, {}, key);
    expect(taken.status).toBe(201);
    const userHash = test.gateway.vault.userHash((await test.gateway.tokens.verifyAppUser(token)).id);
    const scope = idempotencyScope(test.gateway.blindIndex, userHash, key, {});
    const late = await test.gateway.db.transaction((tx) =>
      completeIdempotencyKey(tx, scope, 'the-lapsed-lease', { status: 502, body: { error: { code: 'provider_error' } } }, taken.body.id),
    );
    expect(late).toBe(false);
    expect((await checkout(test, token, {}, key)).body).toEqual(taken.body);
  });

  it('a duplicate that waits longer than IDEMPOTENCY_WAIT_MS for a live request gets 409 idempotency_key_in_use', async () => {
    const token = await test.token('racer-7');
    const key = newKey();
    await crashAfterStoringPayment(token, key, 'held');
    const res = await checkout(test, token, {}, key);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: 'idempotency_error', code: 'idempotency_key_in_use', param: 'Idempotency-Key' });
  });
});
