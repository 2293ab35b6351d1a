import { expireAbandonedPayments, reconcileStuckPayments } from '../../src/payments/reconcile';
import { approveHeldPayment, rejectHeldPayment } from '../../src/risk/review';
import { FakeEvent, FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';
import { factCount, history, order, paymentRow, reconcileDeps as reconcileDepsOf, reviewDeps as reviewDepsOf, settled } from '../support/fact-order';
import { aDevice, newKey, startTestGateway, TestGateway } from '../support/gateway';

/**
 * A payment's state is a function of the facts Stripe told us, whatever order its webhooks arrive in and however
 * often each arrives. End to end: the real gateway over HTTP, the real Stripe SDK against a local fake of Stripe's
 * API, webhooks signed with the real webhook secret, orders read back with the buyer's token.
 */
let fake: FakeStripeApi;
let kalos: TestGateway;

/** Each buyer checks out from an address of its own (X-Forwarded-For), so the per-IP burst rule stays out of these tests. */
const gatewayEnv = () => ({ ...fake.env(), TRUST_PROXY: '1' });

beforeAll(async () => {
  fake = await FakeStripeApi.start();
  kalos = await startTestGateway({ env: gatewayEnv() });
});

afterAll(async () => {
  await kalos?.stop();
  await fake?.close();
});

const AMOUNT = 6000; // gems_600, CNY

interface Paid {
  k: TestGateway;
  token: string;
  id: string;
  intentId: string;
}

let buyers = 0;
/** A documentation-range address per buyer. */
const buyerAddress = (n: number) => `${n < 250 ? '198.51.100' : '203.0.113'}.${(n % 250) + 1}`;
/** Each checkout is its own buyer on its own phone, so the risk layer's velocity rules never mix payments. */
async function stripeCheckout(k: TestGateway = kalos, device: Record<string, unknown> = {}): Promise<Paid> {
  const n = buyers++;
  const token = await k.token(`fact-order-buyer-${n}`);
  const res = await k.http
    .post('/v1/checkouts')
    .set('Authorization', `Bearer ${token}`)
    .set('Idempotency-Key', newKey())
    .set('X-Forwarded-For', buyerAddress(n))
    .send({ sku: 'gems_600', provider: 'stripe', device: aDevice({ id: `fact-order-phone-${n}`, ...device }) });
  expect(res.status).toBe(201);
  // A risk decision other than allow would change the capture method and what "paid" means: keep it visible.
  expect(res.body).toMatchObject({ status: 'requires_payment', amount: AMOUNT, provider: 'stripe', risk: { decision: device.emulator ? 'review' : 'allow' } });
  const intent = fake.allIntents().find((candidate) => candidate.metadata.payment_id === res.body.id);
  if (!intent) throw new Error(`no PaymentIntent was created for ${res.body.id}`);
  return { k, token, id: res.body.id, intentId: intent.id };
}

function send(event: FakeEvent | string, k: TestGateway = kalos) {
  const { body, signature } = signedStripeWebhook(event);
  return k.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', signature).send(body);
}

async function deliver(events: FakeEvent[], k: TestGateway = kalos) {
  for (const event of events) {
    const res = await send(event, k);
    expect({ type: event.type, status: res.status }).toEqual({ type: event.type, status: 200 });
  }
}

const reconcileDeps = (k: TestGateway = kalos) => reconcileDepsOf(k);
const reviewDeps = (k: TestGateway = kalos) => reviewDepsOf(k);

/** The payer paid at Stripe; Stripe's payment_intent.succeeded is built now (Stripe's own time), delivered whenever the test says. */
async function paidAtStripe(k: TestGateway = kalos) {
  const paid = await stripeCheckout(k);
  fake.setStatus(paid.intentId, 'succeeded');
  return { paid, succeeded: fake.intentEvent('payment_intent.succeeded', paid.intentId) };
}

/** A small seeded PRNG, so a shuffle that finds a bug finds it again. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('refund notice before the success', () => {
  /** Paid at Stripe, refunded in the dashboard, and neither webhook delivered yet. */
  async function refundedInDashboard(amount: number) {
    const { paid, succeeded } = await paidAtStripe();
    fake.dashboardRefund(paid.intentId, amount);
    const refunded = fake.chargeRefundedEvent(paid.intentId);
    expect(refunded.data.object).toMatchObject({ amount_refunded: amount, payment_intent: paid.intentId });
    return { paid, succeeded, refunded };
  }

  test('full: charge.refunded first proves the money was taken and gone → refunded; the success after changes nothing', async () => {
    const { paid, succeeded, refunded } = await refundedInDashboard(AMOUNT);
    await deliver([refunded]);
    expect(await order(paid)).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT });
    await deliver([succeeded]);

    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT, refunds: [[AMOUNT, 'succeeded']] });
    expect(final.row).toMatchObject({ status: 'refunded', refunded_amount: String(AMOUNT), captured_amount: String(AMOUNT) });
    expect((await history(paid)).at(-1)).toBe('refunded');
    expect(await history(paid)).not.toContain('succeeded');
  });

  test('full: the other order (success, then charge.refunded) ends in the same state', async () => {
    const first = await refundedInDashboard(AMOUNT);
    await deliver([first.refunded, first.succeeded]);
    const second = await refundedInDashboard(AMOUNT);
    await deliver([second.succeeded, second.refunded]);

    expect(await history(second.paid)).toEqual(['requires_payment', 'succeeded', 'refunded']);
    expect(await settled(second.paid)).toEqual(await settled(first.paid));
    expect((await settled(second.paid)).status).toBe('refunded');
  });

  test('partial: → partially_refunded in both orders, with the same totals', async () => {
    const refundFirst = await refundedInDashboard(2000);
    await deliver([refundFirst.refunded]);
    expect(await order(refundFirst.paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 2000 });
    await deliver([refundFirst.succeeded]);

    const successFirst = await refundedInDashboard(2000);
    await deliver([successFirst.succeeded, successFirst.refunded]);

    const a = await settled(refundFirst.paid);
    expect(a).toMatchObject({ status: 'partially_refunded', refunded_amount: 2000, refunds: [[2000, 'succeeded']] });
    expect(a.row).toMatchObject({ captured_amount: String(AMOUNT), refunded_amount: '2000' });
    expect(await settled(successFirst.paid)).toEqual(a);
  });
});

describe('a refund of ours after one made in the dashboard', () => {
  test('both count at once: 1500 in the dashboard + 1000 of ours → partially_refunded 2500', async () => {
    const { paid, succeeded } = await paidAtStripe();
    await deliver([succeeded]);
    fake.dashboardRefund(paid.intentId, 1500);
    await deliver([fake.chargeRefundedEvent(paid.intentId)]);
    expect(await order(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500 });

    const ours = await kalos.gateway.refunds.refund({ paymentId: paid.id, amount: 1000, reason: 'requested_by_customer' });
    expect(ours).toMatchObject({ amount: 1000, status: 'succeeded' });
    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'partially_refunded', refunded_amount: 2500 });
    expect(final.refunds.sort()).toEqual([[1000, 'succeeded'], [1500, 'succeeded']]);
  });
});

describe('a dashboard refund whose charge.refunded arrives only after our own refund', () => {
  test('both count: 1500 in the dashboard + 1000 of ours → partially_refunded 2500', async () => {
    const { paid, succeeded } = await paidAtStripe();
    await deliver([succeeded]);
    fake.dashboardRefund(paid.intentId, 1500);
    const late = fake.chargeRefundedEvent(paid.intentId);
    late.created -= 60; // Stripe sent it a minute ago; it is held up on the way

    const ours = await kalos.gateway.refunds.refund({ paymentId: paid.id, amount: 1000, reason: 'requested_by_customer' });
    expect(ours).toMatchObject({ amount: 1000, status: 'succeeded' });
    await deliver([late]);

    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'partially_refunded', refunded_amount: 2500 });
    expect(final.refunds.sort()).toEqual([[1000, 'succeeded'], [1500, 'succeeded']]);
  });
});

describe('dispute before the success', () => {
  async function disputedAtStripe() {
    const { paid, succeeded } = await paidAtStripe();
    const opened = fake.disputeEvent('charge.dispute.created', paid.intentId, 'needs_response');
    const won = fake.disputeEvent('charge.dispute.closed', paid.intentId, 'won');
    return { paid, succeeded, opened, won };
  }

  test('charge.dispute.created first → disputed, and the success after leaves it disputed; the same in the other order', async () => {
    const disputeFirst = await disputedAtStripe();
    await deliver([disputeFirst.opened]);
    expect((await order(disputeFirst.paid)).status).toBe('disputed');
    await deliver([disputeFirst.succeeded]);

    const successFirst = await disputedAtStripe();
    await deliver([successFirst.succeeded, successFirst.opened]);

    const a = await settled(disputeFirst.paid);
    expect(a).toMatchObject({ status: 'disputed', refunded_amount: 0, row: { open_dispute: true, captured_amount: String(AMOUNT) } });
    expect(await settled(successFirst.paid)).toEqual(a);
  });

  test('a dispute won afterwards returns the payment to succeeded, whichever of success and dispute came first', async () => {
    const disputeFirst = await disputedAtStripe();
    await deliver([disputeFirst.opened, disputeFirst.succeeded, disputeFirst.won]);
    const successFirst = await disputedAtStripe();
    await deliver([successFirst.succeeded, successFirst.opened, successFirst.won]);

    const a = await settled(disputeFirst.paid);
    expect(a).toMatchObject({ status: 'succeeded', refunded_amount: 0, row: { open_dispute: false } });
    expect(await settled(successFirst.paid)).toEqual(a);
    expect(await history(disputeFirst.paid)).toEqual(['requires_payment', 'disputed', 'succeeded']);
  });
});

describe('a decline, then a payment whose webhook was lost', () => {
  test('reconcile asks Stripe about the failed payment and finds it succeeded', async () => {
    const paid = await stripeCheckout();
    fake.decline(paid.intentId);
    const declined = fake.intentEvent('payment_intent.payment_failed', paid.intentId);
    await deliver([declined]);
    expect((await order(paid)).status).toBe('failed');

    // The payer tries again in the Payment Sheet and it goes through; payment_intent.succeeded never reaches us.
    fake.setStatus(paid.intentId, 'succeeded');
    const summary = await reconcileStuckPayments(reconcileDeps(), { olderThanSeconds: 0, limit: 100 });
    expect(summary.failed).toBe(0);

    expect(await order(paid)).toMatchObject({ status: 'succeeded', refunded_amount: 0 });
    expect(await history(paid)).toEqual(['requires_payment', 'failed', 'succeeded']);
    // The decline delivered again (Stripe retries), or reported once more under a new event id, does not undo money that was seen.
    await deliver([declined, fake.event('payment_intent.payment_failed', declined.data.object)]);
    expect(await history(paid)).toEqual(['requires_payment', 'failed', 'succeeded']);
  });
});

describe('a held payment refunded in part in the Stripe dashboard', () => {
  /**
   * An automatic-capture payment held for a person: the checkout expired, Stripe did not confirm the close (the
   * cancel call failed), and the payer paid on it anyway → held_for_review (paid_after_cancel). Then someone
   * refunds 1500 in the Stripe dashboard. (A risk-review payment on Stripe is a manual-capture authorisation,
   * which Stripe cannot refund before capture.)
   */
  async function heldThenDashboardRefund() {
    const paid = await stripeCheckout();
    expect(fake.intent(paid.intentId).capture_method).toBe('automatic');
    await kalos.gateway.db.many("UPDATE payments SET created_at = now() - interval '2 days' WHERE id = $1", [paid.id]);
    fake.failNextTo(new RegExp(`^/v1/payment_intents/${paid.intentId}/cancel$`), 500, 'api_error', 'Stripe timed out');
    await expireAbandonedPayments(reconcileDeps(), { olderThanSeconds: 24 * 3600 });
    expect(await paymentRow(paid)).toMatchObject({ status: 'canceled', session_close_outstanding: true });

    fake.setStatus(paid.intentId, 'succeeded');
    await deliver([fake.intentEvent('payment_intent.succeeded', paid.intentId)]);
    expect(await paymentRow(paid)).toMatchObject({ status: 'held_for_review', review_reason: 'paid_after_cancel' });

    const dashboard = fake.dashboardRefund(paid.intentId, 1500);
    await deliver([fake.chargeRefundedEvent(paid.intentId)]);
    expect(await order(paid)).toMatchObject({ status: 'held_for_review', refunded_amount: 1500 });
    return { paid, dashboard };
  }

  test('approving it releases what is left → partially_refunded', async () => {
    const { paid } = await heldThenDashboardRefund();
    const approved = await approveHeldPayment(reviewDeps(), paid.id);
    expect(approved).toMatchObject({ status: 'partially_refunded', refundedAmount: 1500 });
    expect(await settled(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500, refunds: [[1500, 'succeeded']] });
    expect(fake.refundsOf(paid.intentId).map((refund) => refund.amount)).toEqual([1500]);
  });

  test('rejecting it refunds the remainder at Stripe → refunded', async () => {
    const { paid, dashboard } = await heldThenDashboardRefund();
    const rejected = await rejectHeldPayment(reviewDeps(), paid.id);
    expect(rejected).toMatchObject({ status: 'refunded', refundedAmount: AMOUNT });

    const atStripe = fake.refundsOf(paid.intentId);
    expect(atStripe.map((refund) => [refund.id === dashboard.id ? 'dashboard' : refund.metadata.refund_id ? 'ours' : '?', refund.amount])).toEqual([
      ['dashboard', 1500],
      ['ours', 4500],
    ]);
    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT });
    expect(final.refunds.sort()).toEqual([[1500, 'succeeded'], [4500, 'succeeded']].sort());
    // Stripe's charge.refunded for our own refund changes nothing more.
    await deliver([fake.chargeRefundedEvent(paid.intentId)]);
    expect(await settled(paid)).toEqual(final);
  });
});

describe('validly signed bodies that are not Stripe events', () => {
  let paid: Paid;
  beforeAll(async () => {
    paid = await stripeCheckout();
  });

  const eventRows = async () => Number((await kalos.gateway.db.one<{ n: string }>("SELECT count(*) AS n FROM webhook_events WHERE provider = 'stripe'"))!.n);
  const allFacts = async () => Number((await kalos.gateway.db.one<{ n: string }>('SELECT count(*) AS n FROM payment_facts'))!.n);

  async function expectRefused(body: string) {
    const [eventsBefore, factsBefore] = [await eventRows(), await allFacts()];
    const res = await send(body);
    expect({ body, status: res.status }).toEqual({ body, status: 400 });
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'signature_invalid' });
    expect(res.body.error.request_id).toEqual(expect.any(String));
    expect([await eventRows(), await allFacts()]).toEqual([eventsBefore, factsBefore]);
    expect(await history(paid)).toEqual(['requires_payment']);
  }

  test.each(['[]', '{}', '"x"', '{"id":"evt_1"}', 'null', '42', '{"id":"evt_1","type":"payment_intent.succeeded"}'])('%s → 400, no effect', async (body) => {
    await expectRefused(body);
  });

  const envelope = (type: string, object: object) =>
    JSON.stringify({ id: `evt_probe_${buyers++}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } });

  test.each([
    ['payment_intent.succeeded around {}', () => envelope('payment_intent.succeeded', {})],
    // Names our payment, but carries no amount or currency: nothing about money can be read from it.
    ['payment_intent.succeeded naming our payment, with no amount or currency', () => envelope('payment_intent.succeeded', { id: paid.intentId, object: 'payment_intent', metadata: { payment_id: paid.id } })],
    ['charge.refunded around {}', () => envelope('charge.refunded', {})],
  ])('an event envelope whose object is unreadable (%s) → 400, no effect, never 500', async (_name, body) => {
    await expectRefused(body());
  });

  test('a signed charge.refunded that names no charge never lands on another payment', async () => {
    const { paid: other, succeeded } = await paidAtStripe();
    await deliver([succeeded]);
    const ours = await kalos.gateway.refunds.refund({ paymentId: other.id, amount: 1000, reason: 'requested_by_customer' });
    expect(ours.status).toBe('succeeded');
    const before = await settled(other);
    expect(before).toMatchObject({ status: 'partially_refunded', refunded_amount: 1000 });

    const res = await send(envelope('charge.refunded', { object: 'charge', amount: AMOUNT, amount_refunded: AMOUNT, currency: 'cny', refunded: true }));
    expect(res.status).toBeLessThan(500);
    expect(await settled(other)).toEqual(before);
  });
});

describe('every webhook delivered twice, in a shuffled order', () => {
  /** Paid, refunded 2000 in the dashboard, disputed, dispute won: four events, each sent twice in a seeded shuffle. */
  async function scenario(seed: number) {
    const { paid, succeeded } = await paidAtStripe();
    fake.dashboardRefund(paid.intentId, 2000);
    const refunded = fake.chargeRefundedEvent(paid.intentId);
    const opened = fake.disputeEvent('charge.dispute.created', paid.intentId, 'needs_response');
    const won = fake.disputeEvent('charge.dispute.closed', paid.intentId, 'won');
    const events = [succeeded, refunded, opened, won];
    const order = shuffled([...events, ...events], seed);
    await deliver(order);
    return { paid, events, order: order.map((event) => event.type) };
  }

  test.each([1, 2, 3, 4])('seed %i: the same final state, one fact and one webhook_events row per event', async (seed) => {
    const { paid, events, order: sent } = await scenario(seed);
    const final = await settled(paid);
    expect({ sent, final }).toMatchObject({
      sent,
      final: { status: 'partially_refunded', refunded_amount: 2000, refunds: [[2000, 'succeeded']], row: { open_dispute: false, captured_amount: String(AMOUNT) } },
    });
    expect(await factCount(paid)).toBe(events.length);
    const stored = await kalos.gateway.db.many<{ event_id: string }>("SELECT event_id FROM webhook_events WHERE provider = 'stripe' AND payment_id = $1", [paid.id]);
    expect(stored.map((row) => row.event_id).sort()).toEqual(events.map((event) => event.id).sort());
  });

  test('the same four events delivered twice at once, concurrently, end the same way', async () => {
    const { paid, succeeded } = await paidAtStripe();
    fake.dashboardRefund(paid.intentId, 2000);
    const events = [
      succeeded,
      fake.chargeRefundedEvent(paid.intentId),
      fake.disputeEvent('charge.dispute.created', paid.intentId, 'needs_response'),
      fake.disputeEvent('charge.dispute.closed', paid.intentId, 'won'),
    ];
    const replies = await Promise.all(shuffled([...events, ...events], 99).map((event) => send(event)));
    expect(replies.map((reply) => reply.status)).toEqual(Array(8).fill(200));
    expect(await settled(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 2000 });
    expect(await factCount(paid)).toBe(4);
  });
});

/** Expiry and reconcile look at every payment in the database, so these run on a gateway (and database) of their own. */
describe('expiry and reconcile, on a gateway of their own', () => {
  let own: TestGateway;
  beforeEach(async () => {
    own = await startTestGateway({ env: gatewayEnv() });
  });
  afterEach(async () => {
    await own?.stop();
  });

  const requestsTo = (path: string) => fake.requests.filter((request) => request.path === path);

  test('expiry asks Stripe first: a session paid without a webhook is not canceled; an unpaid one is, and its intent closed', async () => {
    const { paid } = await paidAtStripe(own);
    const unpaid = await stripeCheckout(own);

    const summary = await expireAbandonedPayments(reconcileDeps(own), { olderThanSeconds: 0 });
    expect(summary).toMatchObject({ examined: 2, failed: 0 });

    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
    expect(fake.intent(paid.intentId).status).toBe('succeeded');
    expect(requestsTo(`/v1/payment_intents/${paid.intentId}/cancel`)).toHaveLength(0);

    expect(await history(unpaid)).toEqual(['requires_payment', 'canceled']);
    expect(fake.intent(unpaid.intentId).status).toBe('canceled');
    expect(requestsTo(`/v1/payment_intents/${unpaid.intentId}/cancel`).map((request) => request.status)).toEqual([200]);
    expect(await paymentRow(unpaid)).toMatchObject({ status: 'canceled', session_close_outstanding: false });

    // The late webhook for the paid one changes nothing; a second expiry run finds nothing to do.
    await deliver([fake.intentEvent('payment_intent.succeeded', paid.intentId)], own);
    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
    expect(await expireAbandonedPayments(reconcileDeps(own), { olderThanSeconds: 0 })).toEqual({ examined: 0, changed: 0, failed: 0 });
  });

  test('30 abandoned checkouts and one paid without a webhook (the newest): reconcile with limit 10 reaches it', async () => {
    const abandoned: Paid[] = [];
    for (let i = 0; i < 30; i++) abandoned.push(await stripeCheckout(own));
    const { paid } = await paidAtStripe(own);
    const all = [...abandoned, paid];

    const asked = async () =>
      Number((await own.gateway.db.one<{ n: string }>('SELECT count(*) AS n FROM payments WHERE last_checked_at IS NOT NULL'))!.n);
    // Least recently asked first: every run asks 10 not asked before, until all 31 were asked once, so the paid one
    // is reached within ceil(31 / 10) = 4 runs wherever it sorts among them.
    const runsNeeded = Math.ceil(all.length / 10);
    let reachedOnRun: number | undefined;
    for (let run = 1; run <= runsNeeded && reachedOnRun === undefined; run++) {
      const summary = await reconcileStuckPayments(reconcileDeps(own), { olderThanSeconds: 0, limit: 10 });
      expect(summary).toMatchObject({ examined: 10, failed: 0 });
      expect(await asked()).toBe(Math.min(run * 10, all.length));
      if ((await order(paid)).status === 'succeeded') reachedOnRun = run;
    }
    expect(reachedOnRun).toBeDefined();
    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
    for (const payment of abandoned.slice(0, 3)) expect((await order(payment)).status).toBe('requires_payment');
  });
});
