import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimIdempotencyKey, idempotencyScope, LEASE_SECONDS, whileLeased } from '../../src/payments/idempotency';
import { expireAbandonedPayments } from '../../src/payments/reconcile';
import { checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';
import { postSandboxWebhook, SandboxEventInput } from '../support/sandbox-webhooks';

/**
 * The sandbox end to end: signed webhooks posted over HTTP in every order, and the sandbox's triggers that
 * let anyone try refunds, disputes and processing offline. A payment's state is the same however its
 * provider's messages arrive.
 */
let test: TestGateway;

beforeAll(async () => {
  test = await startTestGateway({ env: { IDEMPOTENCY_WAIT_MS: '4500' } });
});

afterAll(async () => {
  await test?.stop();
});

let buyers = 0;
async function aPayment() {
  const token = await test.token(`fact-order-${buyers++}`);
  const res = await checkout(test, token);
  expect(res.status).toBe(201);
  return { token, payment: res.body as { id: string; amount: number; currency: string } };
}

async function order(token: string, id: string) {
  const res = await test.http.get(`/v1/orders/${id}`).set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(200);
  return res.body as { status: string; refunded_amount: number; history: { status: string }[]; refunds: { amount: number; status: string }[] };
}

type Event = Omit<SandboxEventInput, 'paymentId' | 'amount' | 'currency'>;

async function deliver(payment: { id: string; amount: number; currency: string }, events: Event[]) {
  for (const event of events) {
    const res = await postSandboxWebhook(test, { paymentId: payment.id, amount: payment.amount, currency: payment.currency, ...event });
    expect(res.status).toBe(200);
  }
}

const success = (n = 0): Event => ({ id: `evt_ok_${n}_${buyers}`, type: 'payment.succeeded' });
const refund = (amount: number, n = 0): Event => ({ id: `evt_rf_${n}_${buyers}`, type: 'refund.succeeded', refund: { id: `sbx_re_${n}_${buyers}`, amount } });
const dispute = (type: 'dispute.opened' | 'dispute.won' | 'dispute.lost'): Event => ({ id: `evt_${type.replace('.', '_')}_${buyers}`, type, disputeId: `sbx_dp_${buyers}` });

describe.each([
  ['success first', (events: Event[]) => events],
  ['success last', (events: Event[]) => [...events].reverse()],
])('messages in any order (%s)', (_name, arrange) => {
  it('a full refund with its success ends refunded, never succeeded', async () => {
    const { token, payment } = await aPayment();
    await deliver(payment, arrange([success(), refund(payment.amount)]));
    expect(await order(token, payment.id)).toMatchObject({ status: 'refunded', refunded_amount: payment.amount });
  });

  it('a partial refund with its success ends partially refunded', async () => {
    const { token, payment } = await aPayment();
    await deliver(payment, arrange([success(), refund(100)]));
    const seen = await order(token, payment.id);
    expect(seen).toMatchObject({ status: 'partially_refunded', refunded_amount: 100 });
    expect(seen.refunds).toEqual([expect.objectContaining({ amount: 100, status: 'succeeded' })]);
  });

  it('a dispute with its success ends disputed, and the won dispute returns it to succeeded', async () => {
    const { token, payment } = await aPayment();
    await deliver(payment, arrange([success(), dispute('dispute.opened')]));
    expect((await order(token, payment.id)).status).toBe('disputed');
    await deliver(payment, [dispute('dispute.won')]);
    expect((await order(token, payment.id)).status).toBe('succeeded');
  });
});

it('a whole history delivered shuffled and with duplicates always ends in the same state, one fact per event', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (seed) => {
      const { token, payment } = await aPayment();
      const history = [
        { id: `evt_proc_${buyers}`, type: 'payment.processing', created: 1_800_000_000 } as Event,
        { id: `evt_ko_${buyers}`, type: 'payment.failed', created: 1_800_000_010 } as Event,
        { ...success(), created: 1_800_000_020 },
        refund(200, 1),
        refund(300, 2),
        dispute('dispute.opened'),
        dispute('dispute.lost'),
      ];
      const redelivered = fc.sample(fc.shuffledSubarray([...history, ...history.slice(0, 3)], { minLength: 10, maxLength: 10 }), { numRuns: 1, seed })[0];
      await deliver(payment, redelivered);
      expect(await order(token, payment.id)).toMatchObject({ status: 'disputed', refunded_amount: 500 });
      const facts = await test.gateway.db.one<{ n: number }>('SELECT count(*)::int AS n FROM payment_facts WHERE payment_id = $1', [payment.id]);
      expect(facts?.n).toBe(history.length);
    }),
    { numRuns: 5 },
  );
});

describe('the sandbox triggers', () => {
  const trigger = (token: string, id: string, body: Record<string, unknown>) =>
    test.http.post(`/v1/sandbox/payments/${id}/events`).set('Authorization', `Bearer ${token}`).send(body);

  it('report a processing payment, a partial then a full refund, each through a signed webhook', async () => {
    const { token, payment } = await aPayment();
    expect((await trigger(token, payment.id, { type: 'payment.processing' })).body.status).toBe('processing');
    expect((await trigger(token, payment.id, { type: 'payment.succeeded' })).body.status).toBe('succeeded');
    expect((await trigger(token, payment.id, { type: 'refund.succeeded', amount: 100 })).body).toMatchObject({ status: 'partially_refunded', refunded_amount: 100 });
    expect((await trigger(token, payment.id, { type: 'refund.succeeded', amount: payment.amount - 100 })).body).toMatchObject({ status: 'refunded' });
  });

  it('open a dispute before the success is even reported, then lose it', async () => {
    const { token, payment } = await aPayment();
    expect((await trigger(token, payment.id, { type: 'dispute.opened' })).body.status).toBe('disputed');
    expect((await trigger(token, payment.id, { type: 'payment.succeeded' })).body.status).toBe('disputed');
    expect((await trigger(token, payment.id, { type: 'dispute.lost' })).body.status).toBe('disputed');
  });

  it('refuse an unknown event type with the offending field', async () => {
    const { token, payment } = await aPayment();
    const res = await trigger(token, payment.id, { type: 'payment.teleported' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'parameter_invalid', param: 'type' });
  });
});

describe('expiry and money that arrives after it', () => {
  it('a checkout canceled for being abandoned, then paid, is held for a person instead of lost', async () => {
    const { token, payment } = await aPayment();
    await test.gateway.db.many("UPDATE payments SET created_at = now() - interval '2 days' WHERE id = $1", [payment.id]);
    const deps = { db: test.gateway.db, providers: test.gateway.providers, webhooks: test.gateway.webhooks, logger: test.gateway.logger };
    await expireAbandonedPayments(deps, { olderThanSeconds: 3600 });
    expect((await order(token, payment.id)).status).toBe('canceled');
    await deliver(payment, [success()]);
    expect(await test.gateway.db.one('SELECT status, review_reason FROM payments WHERE id = $1', [payment.id])).toEqual({
      status: 'held_for_review',
      review_reason: 'paid_after_cancel',
    });
  });
});

describe('idempotency after a crash', () => {
  /** What a process killed between storing the payment and answering leaves: a fresh lease nobody renews. */
  async function crashBetweenCommitAndAnswer(token: string, key: string) {
    const first = await checkout(test, token, {}, key);
    const userHash = test.gateway.vault.userHash((await test.gateway.tokens.verifyAppUser(token)).id);
    await test.gateway.db.many('UPDATE payments SET provider_ref = NULL, next_action = NULL WHERE id = $1', [first.body.id]);
    await test.gateway.db.many(
      `UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, lease_id = 'the-dead-request',
              locked_until = now() + make_interval(secs => $3) WHERE user_hash = $1 AND key_hash = $2`,
      [userHash, test.gateway.blindIndex.hash('idempotency_key', key), LEASE_SECONDS],
    );
    return first.body.id as string;
  }

  it('a retry is answered within 5 s, with the same payment, once the dead request stops renewing its lease', async () => {
    const token = await test.token('crash-victim');
    const key = newKey();
    const paymentId = await crashBetweenCommitAndAnswer(token, key);
    const started = Date.now();
    const retry = await checkout(test, token, {}, key);
    const waited = Date.now() - started;
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: paymentId, status: 'requires_payment', next_action: { type: 'sandbox_confirm' } });
    expect(waited).toBeLessThan(5_000);
  });

  it('a request that is merely slow keeps renewing its lease: a duplicate waits instead of taking its work over', async () => {
    const scope = idempotencyScope(test.gateway.blindIndex, 'user-hash-of-a-slow-request', newKey(), { sku: 'gems_600' });
    const claim = await test.gateway.db.transaction((tx) => claimIdempotencyKey(tx, scope, 24));
    if (claim.state !== 'claimed') throw new Error(`expected a fresh claim, got ${claim.state}`);
    await test.gateway.db.many("UPDATE idempotency_keys SET payment_id = $3 WHERE user_hash = $1 AND key_hash = $2", [
      scope.userHash, scope.keyHash, (await aPayment()).payment.id,
    ]);
    const slowProviderCall = whileLeased(test.gateway.db, scope, claim.lease, () => sleep((LEASE_SECONDS + 1.5) * 1000));
    await sleep((LEASE_SECONDS + 0.5) * 1000);
    const duplicate = await test.gateway.db.transaction((tx) => claimIdempotencyKey(tx, scope, 24));
    expect(duplicate.state).toBe('busy');
    await slowProviderCall;
  });

  it('a duplicate that gives up waiting is told when to come back', async () => {
    const token = await test.token('impatient-twin');
    const key = newKey();
    await crashBetweenCommitAndAnswer(token, key);
    await test.gateway.db.many("UPDATE idempotency_keys SET locked_until = now() + interval '1 hour' WHERE lease_id = 'the-dead-request'");
    const res = await checkout(test, token, {}, key);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'idempotency_key_in_use', param: 'Idempotency-Key' });
    expect(res.headers['retry-after']).toBe('1');
  }, 20_000);
});
