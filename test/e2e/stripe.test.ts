import { reconcileStuckPayments } from '../../src/payments/reconcile';
import type { PaymentProvider } from '../../src/providers/types';
import { FAKE_STRIPE_KEYS, FakeEvent, FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';
import { aDevice, checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';

/** Stripe end to end: the real gateway over HTTP, the real SDK, and a local fake of Stripe's API. */
let fake: FakeStripeApi;
let kalos: TestGateway;
let stripe: PaymentProvider;

beforeAll(async () => {
  fake = await FakeStripeApi.start();
  kalos = await startTestGateway({ env: fake.env() });
  stripe = kalos.gateway.providers.get('stripe')!;
});

afterAll(async () => {
  await kalos?.stop();
  await fake?.close();
});

let buyers = 0;
/** Each test pays as its own buyer on its own phone, so the risk layer's velocity rules never mix tests. */
async function aBuyer(device: Record<string, unknown> = {}) {
  const n = buyers++;
  return { token: await kalos.token(`stripe-buyer-${n}`), device: aDevice({ id: `stripe-phone-${n}`, ...device }) };
}

async function stripeCheckout(options: { device?: Record<string, unknown> } = {}) {
  const buyer = await aBuyer(options.device);
  const key = newKey();
  const res = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
  expect(res.status).toBe(201);
  const intent = fake.allIntents().find((candidate) => candidate.metadata.payment_id === res.body.id);
  if (!intent) throw new Error(`no PaymentIntent was created for ${res.body.id}`);
  return { ...buyer, key, payment: res.body as { id: string; status: string; amount: number }, intentId: intent.id };
}

function sendWebhook(event: FakeEvent | string, options: { secret?: string; timestamp?: number } = {}) {
  const { body, signature } = signedStripeWebhook(event, options);
  return kalos.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', signature).send(body);
}

async function stripeSays(type: `payment_intent.${string}`, intentId: string) {
  const res = await sendWebhook(fake.intentEvent(type, intentId));
  expect(res.status).toBe(200);
  return res;
}

async function order(paid: { payment: { id: string }; token: string }) {
  const res = await kalos.http.get(`/v1/orders/${paid.payment.id}`).set('Authorization', `Bearer ${paid.token}`);
  expect(res.status).toBe(200);
  return res.body as { status: string; refunded_amount: number; history: { status: string }[]; refunds: { amount: number; status: string }[] };
}

const statuses = async (paid: Parameters<typeof order>[0]) => (await order(paid)).history.map((entry) => entry.status);

const storedEvents = (eventId: string) =>
  kalos.gateway.db.many<{ outcome: string; payment_id: string | null }>("SELECT outcome, payment_id FROM webhook_events WHERE provider = 'stripe' AND event_id = $1", [eventId]);

describe('checkout with Stripe', () => {
  test('answers 201 with a Payment Sheet action backed by one PaymentIntent carrying no personal data', async () => {
    const paid = await stripeCheckout();
    const intent = fake.intent(paid.intentId);

    expect(paid.payment).toMatchObject({
      status: 'requires_payment',
      amount: 6000,
      currency: 'CNY',
      provider: 'stripe',
      next_action: { type: 'stripe_payment_sheet', client_secret: intent.client_secret, publishable_key: FAKE_STRIPE_KEYS.publishableKey },
    });
    expect(intent).toMatchObject({ amount: 6000, currency: 'cny', capture_method: 'automatic', metadata: { payment_id: paid.payment.id } });
    const sent = fake.requests.find((request) => request.path === '/v1/payment_intents' && JSON.stringify(request.params).includes(paid.payment.id));
    expect(sent?.idempotencyKey).toMatch(/^kalos:checkout:/);
    expect(JSON.stringify(sent)).not.toMatch(/stripe-buyer|stripe-phone|iPhone|127\.0\.0\.1/);
  });

  test('a Stripe outage answers 503 provider_unavailable, and a retry with the same key resumes the same payment', async () => {
    const buyer = await aBuyer();
    const key = newKey();
    fake.failNext(500, 'api_error', 'Stripe is having a bad day');
    const failed = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('5');
    expect(failed.body.error).toMatchObject({ type: 'api_error', code: 'provider_unavailable' });
    expect(JSON.stringify(failed.body)).not.toContain('bad day');
    // The payment is kept (nothing is lost) but has no session yet, so nobody can pay it.
    const listed = await kalos.http.get('/v1/orders').set('Authorization', `Bearer ${buyer.token}`);
    expect(listed.body.data).toEqual([expect.objectContaining({ status: 'requires_payment', next_action: null })]);

    const retried = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(listed.body.data[0].id);
    expect(retried.body.next_action.type).toBe('stripe_payment_sheet');
    expect(fake.allIntents().filter((intent) => intent.metadata.payment_id === retried.body.id)).toHaveLength(1);
    const again = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
    expect(again.body).toEqual(retried.body);
  });

  test('a checkout Stripe refuses for good fails its payment, answers 502, and replays that answer', async () => {
    const buyer = await aBuyer();
    const key = newKey();
    fake.failNext(400, 'invalid_request_error', 'Amount must be at least ¥4', 'amount_too_small');
    const refused = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
    expect(refused.status).toBe(502);
    expect(refused.body.error).toMatchObject({ type: 'api_error', code: 'provider_error' });
    const listed = await kalos.http.get('/v1/orders').set('Authorization', `Bearer ${buyer.token}`);
    expect(listed.body.data).toEqual([expect.objectContaining({ status: 'failed' })]);
    const replayed = await checkout(kalos, buyer.token, { provider: 'stripe', device: buyer.device }, key);
    expect(replayed.status).toBe(502);
    expect(replayed.body.error.code).toBe('provider_error');
  });

  test('a retried checkout returns the same payment and never opens a second intent', async () => {
    const paid = await stripeCheckout();
    const retried = await checkout(kalos, paid.token, { provider: 'stripe', device: paid.device }, paid.key);

    expect(retried.status).toBe(201);
    expect(retried.body).toEqual(paid.payment);
    expect(fake.allIntents().filter((intent) => intent.metadata.payment_id === paid.payment.id)).toHaveLength(1);
  });
});

describe('payment webhooks', () => {
  test('payment_intent.succeeded marks the payment succeeded', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded');
    await stripeSays('payment_intent.succeeded', paid.intentId);
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded']);
  });

  test('payment_intent.payment_failed marks it failed', async () => {
    const paid = await stripeCheckout();
    fake.decline(paid.intentId);
    await stripeSays('payment_intent.payment_failed', paid.intentId);
    expect(await statuses(paid)).toEqual(['requires_payment', 'failed']);
  });

  test('payment_intent.canceled marks it canceled', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'canceled');
    await stripeSays('payment_intent.canceled', paid.intentId);
    expect((await order(paid)).status).toBe('canceled');
  });

  test('payment_intent.processing marks it processing, and a late processing after success changes nothing', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'processing');
    const processing = fake.intentEvent('payment_intent.processing', paid.intentId);
    expect((await sendWebhook(processing)).status).toBe(200);
    expect((await order(paid)).status).toBe('processing');

    fake.setStatus(paid.intentId, 'succeeded');
    await stripeSays('payment_intent.succeeded', paid.intentId);
    await stripeSays('payment_intent.processing', paid.intentId);
    expect(await statuses(paid)).toEqual(['requires_payment', 'processing', 'succeeded']);
  });

  test('an amount Stripe received that differs from ours holds the payment for review instead of succeeding', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded', { amount_received: 600 });
    await stripeSays('payment_intent.succeeded', paid.intentId);
    expect(await statuses(paid)).toEqual(['requires_payment', 'held_for_review']);
  });

  test('a currency that differs from ours holds the payment for review too', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded', { currency: 'usd' });
    await stripeSays('payment_intent.succeeded', paid.intentId);
    expect((await order(paid)).status).toBe('held_for_review');
  });

  test('the same event delivered 5 times at once has effect once', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded');
    const event = fake.intentEvent('payment_intent.succeeded', paid.intentId);

    const replies = await Promise.all(Array.from({ length: 5 }, () => sendWebhook(event)));

    expect(replies.map((reply) => reply.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded']);
    expect(await storedEvents(event.id)).toEqual([{ outcome: 'applied', payment_id: paid.payment.id }]);
  });

  test('an event for a payment we do not know is recorded and answered 200, so Stripe stops retrying', async () => {
    const paid = await stripeCheckout();
    const stranger = { ...fake.intent(paid.intentId), id: 'pi_createdElsewhere0001', metadata: {} };
    const event = fake.event('payment_intent.succeeded', stranger);
    expect((await sendWebhook(event)).status).toBe(200);
    expect(await storedEvents(event.id)).toEqual([{ outcome: 'unknown_payment', payment_id: null }]);
  });

  test('an event type we do not handle is acknowledged and changes nothing', async () => {
    const event = fake.event('customer.created', { id: 'cus_0000000000000001', object: 'customer' });
    expect((await sendWebhook(event)).status).toBe(200);
    expect(await storedEvents(event.id)).toEqual([{ outcome: 'ignored', payment_id: null }]);
  });
});

describe('webhook verification', () => {
  let paid: Awaited<ReturnType<typeof stripeCheckout>>;
  let event: FakeEvent;
  beforeAll(async () => {
    paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded');
    event = fake.intentEvent('payment_intent.succeeded', paid.intentId);
  });

  async function expectRejected(request: ReturnType<typeof kalos.http.post>) {
    const res = await request;
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'signature_invalid' });
    expect(await statuses(paid)).toEqual(['requires_payment']);
    expect(await storedEvents(event.id)).toEqual([]);
  }

  const post = (body: string, signature?: string) => {
    const request = kalos.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json');
    return signature === undefined ? request.send(body) : request.set('Stripe-Signature', signature).send(body);
  };

  test('a body tampered with after signing is refused with 400 and no effect', async () => {
    const { body, signature } = signedStripeWebhook(event);
    const tampered = body.replace('"amount_received": 6000', '"amount_received": 6001');
    expect(tampered).not.toBe(body);
    await expectRejected(post(tampered, signature));
  });

  test('an event signed with another secret is refused', async () => {
    const { body, signature } = signedStripeWebhook(event, { secret: 'whsec_notTheGatewaysSecret01' });
    await expectRejected(post(body, signature));
  });

  test('an event signed more than 300 s ago is refused', async () => {
    const { body, signature } = signedStripeWebhook(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    await expectRejected(post(body, signature));
  });

  test('an event without a Stripe-Signature header is refused', async () => {
    await expectRejected(post(signedStripeWebhook(event).body));
  });
});

describe('manual capture for payments the risk layer holds', () => {
  /** An emulator sends the payment to review: Stripe authorises it, and nothing is captured until a person decides. */
  async function heldPayment() {
    const paid = await stripeCheckout({ device: { emulator: true } });
    expect(fake.intent(paid.intentId).capture_method).toBe('manual');
    fake.setStatus(paid.intentId, 'requires_capture');
    await stripeSays('payment_intent.amount_capturable_updated', paid.intentId);
    expect((await order(paid)).status).toBe('held_for_review');
    return { ...paid, operation: { paymentId: paid.payment.id, providerRef: paid.intentId, money: { amount: 6000, currency: 'CNY' } } };
  }

  test('authorised → held_for_review → captured → succeeded', async () => {
    const held = await heldPayment();
    await stripe.capture(held.operation);
    expect(fake.intent(held.intentId).status).toBe('succeeded');
    await stripeSays('payment_intent.succeeded', held.intentId);
    expect(await statuses(held)).toEqual(['requires_payment', 'held_for_review', 'succeeded']);
  });

  test('authorised → held_for_review → canceled releases the funds', async () => {
    const held = await heldPayment();
    await stripe.cancel(held.operation);
    expect(fake.intent(held.intentId).status).toBe('canceled');
    await stripeSays('payment_intent.canceled', held.intentId);
    expect(await statuses(held)).toEqual(['requires_payment', 'held_for_review', 'canceled']);
  });
});

describe('refunds and disputes', () => {
  async function succeededPayment() {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded');
    await stripeSays('payment_intent.succeeded', paid.intentId);
    return paid;
  }

  test('a partial then a full refund: partially_refunded → refunded, each refund recorded once', async () => {
    const paid = await succeededPayment();

    const partial = await kalos.gateway.refunds.refund({ paymentId: paid.payment.id, amount: 2000, reason: 'requested_by_customer' });
    expect(partial).toMatchObject({ amount: 2000, status: 'succeeded' });
    expect((await sendWebhook(fake.chargeRefundedEvent(paid.intentId))).status).toBe(200);
    expect(await order(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 2000 });

    const rest = await kalos.gateway.refunds.refund({ paymentId: paid.payment.id, reason: 'requested_by_customer' });
    expect(rest).toMatchObject({ amount: 4000, status: 'succeeded' });
    expect((await sendWebhook(fake.chargeRefundedEvent(paid.intentId))).status).toBe(200);

    const refunded = await order(paid);
    expect(refunded).toMatchObject({ status: 'refunded', refunded_amount: 6000 });
    expect(refunded.history.map((entry) => entry.status)).toEqual(['requires_payment', 'succeeded', 'partially_refunded', 'refunded']);
    expect(refunded.refunds.map((refund) => [refund.amount, refund.status])).toEqual([[2000, 'succeeded'], [4000, 'succeeded']]);
    expect(fake.refundsOf(paid.intentId).map((refund) => refund.metadata)).toEqual([
      { refund_id: partial.id, payment_id: paid.payment.id },
      { refund_id: rest.id, payment_id: paid.payment.id },
    ]);
  });

  test('a refund whose call timed out stays pending, and reconcile asks again with the same refund id', async () => {
    const paid = await succeededPayment();
    fake.failNext(500, 'api_error', 'Stripe timed out');
    const pending = await kalos.gateway.refunds.refund({ paymentId: paid.payment.id, amount: 1200, reason: 'requested_by_customer' });
    expect(pending.status).toBe('pending');
    expect((await order(paid)).status).toBe('succeeded');

    const retried = await kalos.gateway.refunds.settlePendingRefunds({ olderThanSeconds: 0 });
    expect(retried.settled).toBeGreaterThanOrEqual(1);
    expect(await order(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1200 });
    expect(fake.refundsOf(paid.intentId).filter((refund) => refund.metadata.refund_id === pending.id)).toHaveLength(1);
    // Asked once more, the refund is found by its id at Stripe rather than created a second time.
    await kalos.gateway.db.many("UPDATE refunds SET status = 'pending' WHERE id = $1", [pending.id]);
    await kalos.gateway.refunds.settlePendingRefunds({ olderThanSeconds: 0 });
    expect(fake.refundsOf(paid.intentId).filter((refund) => refund.metadata.refund_id === pending.id)).toHaveLength(1);
  });

  test('a refund Stripe leaves pending counts only once refund.updated says it succeeded', async () => {
    const paid = await succeededPayment();
    fake.holdNextRefund();
    const pending = await kalos.gateway.refunds.refund({ paymentId: paid.payment.id, amount: 1500, reason: 'requested_by_customer' });
    expect(pending).toMatchObject({ amount: 1500, status: 'pending' });
    expect(await order(paid)).toMatchObject({ status: 'succeeded', refunded_amount: 0, refunds: [{ amount: 1500, status: 'pending' }] });

    const [refund] = fake.refundsOf(paid.intentId);
    expect((await sendWebhook(fake.settleRefund(refund.id, 'succeeded'))).status).toBe(200);
    expect(await order(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500, refunds: [{ amount: 1500, status: 'succeeded' }] });
  });

  test('a dispute marks the payment disputed; a won dispute returns it to succeeded', async () => {
    const paid = await succeededPayment();
    expect((await sendWebhook(fake.disputeEvent('charge.dispute.created', paid.intentId, 'needs_response'))).status).toBe(200);
    expect((await order(paid)).status).toBe('disputed');
    expect((await sendWebhook(fake.disputeEvent('charge.dispute.closed', paid.intentId, 'won'))).status).toBe(200);
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded', 'disputed', 'succeeded']);
  });

  test('a lost dispute leaves the payment disputed', async () => {
    const paid = await succeededPayment();
    await sendWebhook(fake.disputeEvent('charge.dispute.created', paid.intentId, 'needs_response'));
    expect((await sendWebhook(fake.disputeEvent('charge.dispute.closed', paid.intentId, 'lost'))).status).toBe(200);
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded', 'disputed']);
  });
});

describe('reconcile', () => {
  test('settles a payment whose webhook was dropped, once', async () => {
    const paid = await stripeCheckout();
    fake.setStatus(paid.intentId, 'succeeded');
    const deps = { db: kalos.gateway.db, providers: kalos.gateway.providers, webhooks: kalos.gateway.webhooks, logger: kalos.gateway.logger };

    const first = await reconcileStuckPayments(deps, { olderThanSeconds: 0 });
    expect(first.changed).toBeGreaterThanOrEqual(1);
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded']);

    const late = await sendWebhook(fake.intentEvent('payment_intent.succeeded', paid.intentId));
    expect(late.status).toBe(200);
    await reconcileStuckPayments(deps, { olderThanSeconds: 0 });
    expect(await statuses(paid)).toEqual(['requires_payment', 'succeeded']);
  });
});
