import { FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';
import { approveHeldPayment, rejectHeldPayment, ReviewDeps } from '../../src/risk/review';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

/** review → held_for_review → a person approves or rejects, through the provider interface and the state machine. */
let fake: FakeStripeApi;
let kalos: TestGateway;
let review: ReviewDeps;

beforeAll(async () => {
  fake = await FakeStripeApi.start();
  kalos = await startTestGateway({ env: fake.env() });
  const { db, providers, refunds } = kalos.gateway;
  review = { db, providers, refunds, onStatusChange: () => undefined };
});
afterAll(async () => {
  await kalos?.stop();
  await fake?.close();
});

let buyers = 0;
async function emulatorCheckout(provider: 'stripe' | 'sandbox') {
  const n = buyers++;
  const token = await kalos.token(`review-buyer-${n}`);
  const res = await checkout(kalos, token, { provider, device: aDevice({ id: `review-phone-${n}`, emulator: true }) });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ status: 'requires_payment', risk: { decision: 'review' } });
  return { token, id: res.body.id as string };
}

async function stripeSays(type: `payment_intent.${string}`, intentId: string) {
  const { body, signature } = signedStripeWebhook(fake.intentEvent(type, intentId));
  const res = await kalos.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', signature).send(body);
  expect(res.status).toBe(200);
}

async function order(paid: { id: string; token: string }) {
  const res = await kalos.http.get(`/v1/orders/${paid.id}`).set('Authorization', `Bearer ${paid.token}`);
  return res.body as { status: string; refunded_amount: number; history: { status: string }[] };
}

/** Stripe authorises (manual capture) and nothing is captured until a person decides. */
async function heldOnStripe() {
  const paid = await emulatorCheckout('stripe');
  const intent = fake.allIntents().find((candidate) => candidate.metadata.payment_id === paid.id)!;
  expect(intent.capture_method).toBe('manual');
  fake.setStatus(intent.id, 'requires_capture');
  await stripeSays('payment_intent.amount_capturable_updated', intent.id);
  expect((await order(paid)).status).toBe('held_for_review');
  return { ...paid, intentId: intent.id };
}

const captureCalls = (intentId: string) => fake.requests.filter((request) => request.path === `/v1/payment_intents/${intentId}/capture`);

test('approve captures the authorisation → succeeded', async () => {
  const held = await heldOnStripe();
  const approved = await approveHeldPayment(review, held.id);
  expect(approved.status).toBe('succeeded');
  expect(captureCalls(held.intentId)).toHaveLength(1);
  expect(fake.intent(held.intentId).status).toBe('succeeded');
  // Stripe's own notice afterwards changes nothing.
  await stripeSays('payment_intent.succeeded', held.intentId);
  expect((await order(held)).history.map((h) => h.status)).toEqual(['requires_payment', 'held_for_review', 'succeeded']);
});

test("approve succeeds when Stripe's webhook for the capture lands before the approval is recorded", async () => {
  const held = await heldOnStripe();
  const stripe = kalos.gateway.providers.get('stripe')!;
  // The provider answers the capture, and its webhook is processed, before approve takes the row lock again.
  const racing = {
    get: (name: string) =>
      name === 'stripe'
        ? { ...stripe, capture: async (input: Parameters<typeof stripe.capture>[0]) => {
            await stripe.capture(input);
            await stripeSays('payment_intent.succeeded', held.intentId);
          } }
        : kalos.gateway.providers.get(name),
  } as unknown as ReviewDeps['providers'];
  const approved = await approveHeldPayment({ ...review, providers: racing }, held.id);
  expect(approved.status).toBe('succeeded');
  expect((await order(held)).history.map((h) => h.status)).toEqual(['requires_payment', 'held_for_review', 'succeeded']);
});

test('reject voids the authorisation → canceled, nothing captured', async () => {
  const held = await heldOnStripe();
  const rejected = await rejectHeldPayment(review, held.id);
  expect(rejected.status).toBe('canceled');
  expect(captureCalls(held.intentId)).toHaveLength(0);
  expect(fake.intent(held.intentId).status).toBe('canceled');
  expect((await order(held)).history.map((h) => h.status)).toEqual(['requires_payment', 'held_for_review', 'canceled']);
});

test('on the sandbox the money arrives, fulfilment waits; reject refunds it in full → refunded', async () => {
  const paid = await emulatorCheckout('sandbox');
  const completed = await kalos.http.post(`/v1/sandbox/payments/${paid.id}/complete`).set('Authorization', `Bearer ${paid.token}`).send({ outcome: 'succeeded' });
  expect(completed.body.status).toBe('held_for_review');
  const rejected = await rejectHeldPayment(review, paid.id);
  expect(rejected).toMatchObject({ status: 'refunded', refundedAmount: 6000 });
});

test('on the sandbox, approve releases the paid order → succeeded', async () => {
  const paid = await emulatorCheckout('sandbox');
  await kalos.http.post(`/v1/sandbox/payments/${paid.id}/complete`).set('Authorization', `Bearer ${paid.token}`).send({ outcome: 'succeeded' });
  expect((await approveHeldPayment(review, paid.id)).status).toBe('succeeded');
});

test('only held payments can be approved or rejected', async () => {
  const paid = await emulatorCheckout('sandbox');
  await expect(approveHeldPayment(review, paid.id)).rejects.toMatchObject({ status: 409, code: 'invalid_state_transition' });
  await expect(rejectHeldPayment(review, 'pay_missing')).rejects.toMatchObject({ status: 404 });
});
