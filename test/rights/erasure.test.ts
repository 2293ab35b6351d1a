import Redis from 'ioredis';
import { runErasuresCommand } from '../../src/cli/erasures';
import { FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';
import { serverUrl } from '../support/databases';
import { findIdentifiers } from '../support/identifier-scan';
import { startTestGateway, TestGateway } from '../support/gateway';
import { redisExpected, testRedisUrl } from '../support/redis';
import { aPerson, as, checkoutAs, erase, exportOf, grant, paySandbox, Person, sandboxEvent, stepUpToken } from './support';

/**
 * Erasure by crypto-shredding, on real PostgreSQL and Redis, with a second instance on the same database:
 * so only when the run was given a server (the embedded flow is test/rights/embedded.test.ts).
 */
let stripe: FakeStripeApi;
let first: TestGateway;
let second: TestGateway;
const riskPrefix = `kp:test-erasure:${process.pid}:${Date.now()}:`;

beforeAll(async () => {
  if (!serverUrl()) return;
  stripe = await FakeStripeApi.start();
  first = await startTestGateway({ redis: redisExpected(), captureLogs: true, env: { ...stripe.env(), TRUST_PROXY: '1', RISK_REDIS_KEY_PREFIX: riskPrefix } });
  second = await startTestGateway({ env: first.sharedEnv, captureLogs: true });
});
afterAll(async () => {
  await second?.stop();
  await first?.stop();
  await stripe?.close();
});

const hashesOf = (person: Person) => ({
  user: first.gateway.blindIndex.hash('user', person.sub),
  device: first.gateway.blindIndex.hash('device', person.device.id as string),
});

/** Pays, refunds and step-up-verifies, so every kind of record about the person exists. */
async function aPersonWithHistory(): Promise<{ person: Person; paymentIds: string[] }> {
  const person = await aPerson(first, 'erasure');
  expect((await grant(first, person, { personalised_recommendations: true })).status).toBe(200);
  const paid = await checkoutAs(first, person);
  expect(paid.status).toBe(201);
  expect((await paySandbox(first, person, paid.body.id)).body.status).toBe('succeeded');
  await first.gateway.refunds.refund({ paymentId: paid.body.id, reason: 'requested_by_customer' });
  const challenged = await checkoutAs(first, person, { device: { ...person.device, rooted: true } });
  expect(challenged.body.status).toBe('requires_verification');
  const verified = await first.http
    .post(`/v1/checkouts/${challenged.body.id}/verify`)
    .set(as(person))
    .send({ step_up_token: await stepUpToken(first, person.sub) });
  expect(verified.status).toBe(200);
  return { person, paymentIds: [paid.body.id, challenged.body.id] };
}

const scan = (needles: string[]) =>
  findIdentifiers({ sql: first.gateway.db, dataDir: first.gateway.config.dataDir, logs: [...first.logs, ...second.logs] }, needles);

async function redisKeysWith(hash: string): Promise<string[]> {
  const redis = new Redis(testRedisUrl());
  try {
    return (await redis.keys(`${riskPrefix}*`)).filter((key) => key.includes(hash));
  } finally {
    redis.disconnect();
  }
}

(serverUrl() ? describe : describe.skip)('erasure', () => {
  test('unlinks every record and shreds the data key; the accounting rows stay, anonymised', async () => {
    const { person, paymentIds } = await aPersonWithHistory();
    const hashes = hashesOf(person);
    const readable = [person.sub, person.device.id as string, person.ip];
    expect(await scan(readable)).toEqual([]); // encrypted at rest even before
    expect((await scan([hashes.user, hashes.device])).length).toBeGreaterThan(0);
    if (redisExpected()) expect(await redisKeysWith(hashes.user)).not.toEqual([]); // the counters, when a Redis is given

    const res = await erase(first, person);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ object: 'erasure_request', status: 'completed', waiting_for_payments: [] });
    const polled = await first.http.get(`/v1/me/erasure/${res.body.id}`).set(as(person));
    expect(polled.body).toMatchObject({ id: res.body.id, status: 'completed' });

    expect(await scan([...readable, hashes.user, hashes.device])).toEqual([]);
    if (redisExpected()) expect(await redisKeysWith(hashes.user)).toEqual([]);
    expect(await first.gateway.db.many('SELECT 1 FROM subject_keys WHERE subject_hash = $1', [hashes.user])).toEqual([]);
    const kept = await first.gateway.db.many<{ id: string; amount: string; currency: string; sku: string; status: string; user_hash: string }>(
      'SELECT id, amount, currency, sku, status, user_hash FROM payments WHERE id = ANY($1) ORDER BY created_at',
      [paymentIds],
    );
    expect(kept).toEqual([
      { id: paymentIds[0], amount: '6000', currency: 'CNY', sku: 'gems_600', status: 'refunded', user_hash: `erased:${res.body.id}` },
      { id: paymentIds[1], amount: '6000', currency: 'CNY', sku: 'gems_600', status: 'requires_payment', user_hash: `erased:${res.body.id}` },
    ]);
    expect(await first.gateway.db.many('SELECT 1 FROM risk_step_up_tokens WHERE payment_id = ANY($1)', [paymentIds])).toEqual([]);

    expect((await first.http.get('/v1/orders').set(as(person))).body.data).toEqual([]);
    const exported = await exportOf(first, person);
    expect(exported.body.payments).toEqual([]);
    expect(exported.body.consents.consents.every((consent: { granted: boolean; history: unknown[] }) => !consent.granted && consent.history.length === 0)).toBe(true);
  });

  test('a new checkout with the same user id starts a fresh subject, which the other instance reads at once', async () => {
    const person = await aPerson(first, 'returning');
    // The first checkout creates the subject's key; the second reads it, so the second instance caches it.
    for (let i = 0; i < 2; i += 1) expect((await checkoutAs(second, person)).status).toBe(201);
    expect((await erase(first, person)).body.status).toBe('completed');

    expect((await second.http.get('/v1/orders').set(as(person))).body.data).toEqual([]);
    const again = await checkoutAs(second, person);
    expect(again.status).toBe(201);
    const keys = await first.gateway.db.many<{ id: string }>('SELECT id FROM subject_keys WHERE subject_hash = $1', [hashesOf(person).user]);
    const sealed = await first.gateway.db.one<{ device_enc: string }>('SELECT device_enc FROM payments WHERE id = $1', [again.body.id]);
    expect(keys).toHaveLength(1);
    expect(sealed!.device_enc.startsWith(`${keys[0].id}.`)).toBe(true);

    const exported = await exportOf(second, person);
    expect(exported.status).toBe(200);
    expect(exported.body.payments.map((payment: { id: string }) => payment.id)).toEqual([again.body.id]);
    expect(exported.body.payments[0].personal).toMatchObject({ user_id: person.sub, ip_address: person.ip, device: { id: person.device.id } });
  });

  test('waits for an open dispute, says so, and completes once the dispute closes', async () => {
    const person = await aPerson(first, 'disputed');
    const paid = await checkoutAs(first, person);
    await paySandbox(first, person, paid.body.id);
    expect((await sandboxEvent(first, person, paid.body.id, 'dispute.opened')).body.status).toBe('disputed');

    const res = await erase(first, person);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', waiting_for_payments: [paid.body.id] });
    expect(res.body.message).toMatch(/open dispute or a refund in flight/);
    expect((await first.http.get('/v1/orders').set(as(person))).body.data).toHaveLength(1);

    await sandboxEvent(first, person, paid.body.id, 'dispute.won');
    expect(await runErasuresCommand(['process'], first.gateway)).toBe('erasures: 1 completed');
    expect((await first.http.get(`/v1/me/erasure/${res.body.id}`).set(as(person))).body.status).toBe('completed');
    expect((await first.http.get('/v1/orders').set(as(person))).body.data).toEqual([]);
    expect(await scan([person.sub, person.device.id as string, person.ip, hashesOf(person).user])).toEqual([]);
  });

  test('waits for a refund still pending at Stripe, and completes once Stripe settles it', async () => {
    const person = await aPerson(first, 'refunding');
    const paid = await checkoutAs(first, person, { provider: 'stripe' });
    const intent = stripe.allIntents().find((candidate) => candidate.metadata.payment_id === paid.body.id)!;
    const stripeSays = async (event: object) => {
      const { body, signature } = signedStripeWebhook(event);
      expect((await first.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', signature).send(body)).status).toBe(200);
    };
    stripe.setStatus(intent.id, 'succeeded');
    await stripeSays(stripe.intentEvent('payment_intent.succeeded', intent.id));
    stripe.holdNextRefund();
    expect(await first.gateway.refunds.refund({ paymentId: paid.body.id, reason: 'requested_by_customer' })).toMatchObject({ status: 'pending' });

    const res = await erase(first, person);
    expect(res.body).toMatchObject({ status: 'pending', waiting_for_payments: [paid.body.id] });
    expect(await runErasuresCommand(['process'], first.gateway)).toBe('erasures: 0 completed');

    await stripeSays(stripe.settleRefund(stripe.refundsOf(intent.id)[0].id, 'succeeded'));
    expect(await runErasuresCommand(['process'], first.gateway)).toBe('erasures: 1 completed');
    expect((await first.http.get(`/v1/me/erasure/${res.body.id}`).set(as(person))).body.status).toBe('completed');
    const kept = await first.gateway.db.one('SELECT status, amount, refunded_amount, user_hash FROM payments WHERE id = $1', [paid.body.id]);
    expect(kept).toEqual({ status: 'refunded', amount: '6000', refunded_amount: '6000', user_hash: `erased:${res.body.id}` });
  });

  /** One erasure raced by a checkout on the other instance and a payment's webhook; the end state is checked, not the order. */
  async function raceOnce(person: Person) {
    const open = await checkoutAs(first, person);
    const [erased, racedCheckout, webhook] = await Promise.all([erase(first, person), checkoutAs(second, person), paySandbox(second, person, open.body.id)]);
    expect(erased.status).toBe(202);
    expect(erased.body.status).toBe('completed');
    for (const res of [racedCheckout, webhook]) expect(res.status).toBeLessThan(500);

    // Whatever still carries the user's hash belongs to the fresh subject and is readable by it.
    const { user } = hashesOf(person);
    const key = await first.gateway.db.one<{ id: string }>('SELECT id FROM subject_keys WHERE subject_hash = $1', [user]);
    const linked = await first.gateway.db.many<{ id: string; device_enc: string }>('SELECT id, device_enc FROM payments WHERE user_hash = $1', [user]);
    for (const row of linked) {
      expect(row.device_enc.startsWith(`${key?.id}.`)).toBe(true);
      expect(JSON.parse(await first.gateway.vault.decrypt(first.gateway.db, user, 'payments.device', row.device_enc)).id).toBe(person.device.id);
    }
    const original = await first.gateway.db.one<{ user_hash: string; status: string }>('SELECT user_hash, status FROM payments WHERE id = $1', [open.body.id]);
    // The sandbox's pay button finds the payment only while it is still the user's; once erased it is a 404.
    expect(original).toEqual({ user_hash: `erased:${erased.body.id}`, status: webhook.status === 200 ? 'succeeded' : 'requires_payment' });
    if (webhook.status !== 200) expect(webhook.status).toBe(404);
  }

  test('racing checkouts and webhooks for the same users ends consistent, with nothing readable of the erased subjects', async () => {
    const people = await Promise.all([0, 1, 2].map(() => aPerson(first, 'racer')));
    await Promise.all(people.map(raceOnce));
    for (const person of people) expect((await erase(first, person)).body.status).toBe('completed');
    const needles = people.flatMap((person) => [person.sub, person.device.id as string, person.ip, hashesOf(person).user]);
    expect(await scan(needles)).toEqual([]);
  });
});
