import { expireAbandonedPayments, reconcileStuckPayments } from '../../src/payments/reconcile';
import { approveHeldPayment, rejectHeldPayment } from '../../src/risk/review';
import { FakeAlipayGateway, generateRsaKeyPair, pem } from '../fakes/alipay-gateway';
import { factCount, history, order, paymentRow, reconcileDeps as reconcileDepsOf, reviewDeps as reviewDepsOf, settled } from '../support/fact-order';
import { aDevice, newKey, startTestGateway, TestGateway } from '../support/gateway';

/**
 * A payment's state is a function of the facts Alipay told us, whatever order its notifications arrive in and
 * however often each arrives. End to end: the real gateway over HTTP, the real alipay-sdk against a local fake of
 * Alipay's gateway.do with RSA2 keys made for this run, notifications signed with "Alipay's" key, orders read back
 * with the buyer's token.
 */
const APP_ID = '2021000122671080';
const appKeys = generateRsaKeyPair();
const alipayKeys = generateRsaKeyPair();
const AMOUNT = 6000; // gems_600: 60.00 CNY

let alipay: FakeAlipayGateway;
let gatewayUrl: string;
let kalos: TestGateway;

const alipayEnv = (): Record<string, string> => ({
  ALIPAY_APP_ID: APP_ID,
  ALIPAY_PRIVATE_KEY: pem.pkcs8(appKeys),
  ALIPAY_PUBLIC_KEY: pem.spki(alipayKeys),
  ALIPAY_GATEWAY_URL: gatewayUrl,
  ALIPAY_NOTIFY_URL: 'https://pay.example.com/v1/webhooks/alipay',
  ALIPAY_SELLER_ID: alipay.sellerId,
  // Each buyer checks out from an address of its own (X-Forwarded-For), so the per-IP burst rule stays out of these tests.
  TRUST_PROXY: '1',
});

beforeAll(async () => {
  alipay = new FakeAlipayGateway({ appId: APP_ID, appPublicKey: appKeys.publicKey, alipayKeys });
  gatewayUrl = await alipay.start();
  kalos = await startTestGateway({ env: alipayEnv() });
});

afterAll(async () => {
  await kalos?.stop();
  await alipay?.stop();
});

interface Paid {
  k: TestGateway;
  token: string;
  id: string;
}

let buyers = 0;
/** A documentation-range address per buyer. */
const buyerAddress = (n: number) => `${n < 250 ? '198.51.100' : '203.0.113'}.${(n % 250) + 1}`;
/** A checkout through Alipay by its own buyer on its own phone; `opened` when the buyer opened the order string in the Alipay app. */
async function alipayCheckout(k: TestGateway = kalos, options: { device?: Record<string, unknown>; opened?: boolean } = {}): Promise<Paid> {
  const n = buyers++;
  const token = await k.token(`alipay-order-buyer-${n}`);
  const res = await k.http
    .post('/v1/checkouts')
    .set('Authorization', `Bearer ${token}`)
    .set('Idempotency-Key', newKey())
    .set('X-Forwarded-For', buyerAddress(n))
    .send({ sku: 'gems_600', provider: 'alipay', device: aDevice({ id: `alipay-order-phone-${n}`, ...options.device }) });
  expect(res.status).toBe(201);
  // Alipay has no manual capture: a review decision holds the money once paid. Keep the decision visible.
  expect(res.body).toMatchObject({
    status: 'requires_payment', amount: AMOUNT, provider: 'alipay', next_action: { type: 'alipay_app' },
    risk: { decision: options.device?.emulator ? 'review' : 'allow' },
  });
  if (options.opened !== false) alipay.openOrder(res.body.next_action.order_string);
  return { k, token, id: res.body.id };
}

const notify = (body: string, k: TestGateway = kalos) => k.http.post('/v1/webhooks/alipay').type('form').send(body);

async function deliver(bodies: string[], k: TestGateway = kalos) {
  for (const body of bodies) {
    const res = await notify(body, k);
    const fields = new URLSearchParams(body);
    expect({ trade_status: fields.get('trade_status'), refund_fee: fields.get('refund_fee'), status: res.status, text: res.text }).toEqual({
      trade_status: fields.get('trade_status'),
      refund_fee: fields.get('refund_fee'),
      status: 200,
      text: 'success',
    });
  }
}

const reconcileDeps = (k: TestGateway = kalos) => reconcileDepsOf(k);
const reviewDeps = (k: TestGateway = kalos) => reviewDepsOf(k);
const callsFor = (id: string, method: string) => alipay.calls.filter((call) => call.method === method && call.bizContent.out_trade_no === id);

/** The buyer paid in the Alipay app; the TRADE_SUCCESS notification is built now and delivered whenever the test says. */
async function paidAtAlipay(k: TestGateway = kalos, device: Record<string, unknown> = {}) {
  const paid = await alipayCheckout(k, { device });
  alipay.pay(paid.id);
  return { paid, succeeded: alipay.notification(paid.id) };
}

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

describe('refund notification before the success', () => {
  /** Paid, then refunded in Alipay's merchant portal; neither notification delivered yet. */
  async function refundedInPortal(fen: number) {
    const { paid, succeeded } = await paidAtAlipay();
    alipay.portalRefund(paid.id, fen);
    const refunded = alipay.notification(paid.id);
    return { paid, succeeded, refunded };
  }

  test('full: TRADE_CLOSED with refund_fee = total first → refunded; the TRADE_SUCCESS after changes nothing', async () => {
    const { paid, succeeded, refunded } = await refundedInPortal(AMOUNT);
    expect(Object.fromEntries(new URLSearchParams(refunded))).toMatchObject({ trade_status: 'TRADE_CLOSED', refund_fee: '60.00', total_amount: '60.00' });
    await deliver([refunded]);
    expect(await order(paid)).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT });
    await deliver([succeeded]);

    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT, refunds: [[AMOUNT, 'succeeded']] });
    expect(final.row).toMatchObject({ status: 'refunded', refunded_amount: String(AMOUNT), captured_amount: String(AMOUNT) });
    expect(await history(paid)).toEqual(['requires_payment', 'refunded']);
  });

  test('full: the other order (TRADE_SUCCESS, then the refund) ends in the same state', async () => {
    const first = await refundedInPortal(AMOUNT);
    await deliver([first.refunded, first.succeeded]);
    const second = await refundedInPortal(AMOUNT);
    await deliver([second.succeeded, second.refunded]);

    expect(await history(second.paid)).toEqual(['requires_payment', 'succeeded', 'refunded']);
    expect(await settled(second.paid)).toEqual(await settled(first.paid));
    expect((await settled(second.paid)).status).toBe('refunded');
  });

  test('partial: TRADE_SUCCESS with refund_fee 15.00 → partially_refunded in both orders, with the same totals', async () => {
    const refundFirst = await refundedInPortal(1500);
    expect(Object.fromEntries(new URLSearchParams(refundFirst.refunded))).toMatchObject({ trade_status: 'TRADE_SUCCESS', refund_fee: '15.00' });
    await deliver([refundFirst.refunded]);
    expect(await order(refundFirst.paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500 });
    await deliver([refundFirst.succeeded]);

    const successFirst = await refundedInPortal(1500);
    await deliver([successFirst.succeeded, successFirst.refunded]);

    const a = await settled(refundFirst.paid);
    expect(a).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500, refunds: [[1500, 'succeeded']] });
    expect(a.row).toMatchObject({ captured_amount: String(AMOUNT), refunded_amount: '1500' });
    expect(await settled(successFirst.paid)).toEqual(a);
  });
});

describe('a refund of ours after one made in the portal', () => {
  /**
   * The same accounting as the rejection below, without a review: Alipay's notification reports only the running
   * total (refund_fee) and names the portal's request number, so the portal's refund is known by that total alone.
   */
  test('both count at once: 15.00 in the portal + 10.00 of ours → partially_refunded 2500', async () => {
    const { paid, succeeded } = await paidAtAlipay();
    await deliver([succeeded]);
    alipay.portalRefund(paid.id, 1500);
    await deliver([alipay.notification(paid.id)]);
    expect(await order(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500 });

    const ours = await kalos.gateway.refunds.refund({ paymentId: paid.id, amount: 1000, reason: 'requested_by_customer' });
    expect(ours).toMatchObject({ amount: 1000, status: 'succeeded' });
    expect([...alipay.trade(paid.id).refunds.values()]).toEqual([1500, 1000]);
    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'partially_refunded', refunded_amount: 2500 });
    expect(final.refunds.sort()).toEqual([[1000, 'succeeded'], [1500, 'succeeded']]);
  });
});

describe('a portal refund whose notification arrives only after our own refund', () => {
  /** Alipay's clock, as notify_time and gmt_refund spell it: Beijing time, to the second. */
  const beijing = (at: Date) => new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

  test('the portal refund Alipay reported a minute ago still counts next to ours → partially_refunded 2500', async () => {
    const { paid, succeeded } = await paidAtAlipay();
    await deliver([succeeded]);
    // Refunded in the portal a minute ago; Alipay's notification about it (refund_fee 15.00) is held up on the way.
    alipay.portalRefund(paid.id, 1500);
    const aMinuteAgo = beijing(new Date(Date.now() - 60_000));
    const late = alipay.notification(paid.id, { notify_time: aMinuteAgo, gmt_refund: aMinuteAgo });

    const ours = await kalos.gateway.refunds.refund({ paymentId: paid.id, amount: 1000, reason: 'requested_by_customer' });
    expect(ours).toMatchObject({ amount: 1000, status: 'succeeded' });
    await deliver([late]);

    expect([...alipay.trade(paid.id).refunds.values()]).toEqual([1500, 1000]);
    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'partially_refunded', refunded_amount: 2500 });
    expect(final.refunds.sort()).toEqual([[1000, 'succeeded'], [1500, 'succeeded']]);
  });
});

describe('a payment whose notification never came', () => {
  test('reconcile asks alipay.trade.query and finds TRADE_SUCCESS → succeeded, once', async () => {
    const paid = await alipayCheckout();
    // Alipay did say the buyer was paying...
    await deliver([alipay.notification(paid.id)]);
    expect((await order(paid)).status).toBe('requires_payment');
    // ...then the buyer paid, and the TRADE_SUCCESS notification was lost.
    alipay.pay(paid.id);

    const summary = await reconcileStuckPayments(reconcileDeps(), { olderThanSeconds: 0, limit: 100 });
    expect(summary.failed).toBe(0);
    expect(await order(paid)).toMatchObject({ status: 'succeeded', refunded_amount: 0 });
    expect(callsFor(paid.id, 'alipay.trade.query')).toHaveLength(1);

    // The notification arriving late, and the stale WAIT_BUYER_PAY one again, change nothing.
    await deliver([alipay.notification(paid.id), alipay.notification(paid.id, { trade_status: 'WAIT_BUYER_PAY', gmt_payment: undefined })]);
    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
  });
});

describe('a held payment refunded in part in the Alipay portal', () => {
  /** An emulator sends the payment to risk review; Alipay has no manual capture, so the money arrives and is held. */
  async function heldThenPortalRefund() {
    const { paid, succeeded } = await paidAtAlipay(kalos, { emulator: true });
    await deliver([succeeded]);
    expect(await paymentRow(paid)).toMatchObject({ status: 'held_for_review', review_reason: 'risk_review' });

    alipay.portalRefund(paid.id, 1500, `portal-${paid.id}`);
    await deliver([alipay.notification(paid.id)]);
    expect(await order(paid)).toMatchObject({ status: 'held_for_review', refunded_amount: 1500 });
    return paid;
  }

  test('approving it releases what is left → partially_refunded', async () => {
    const paid = await heldThenPortalRefund();
    const approved = await approveHeldPayment(reviewDeps(), paid.id);
    expect(approved).toMatchObject({ status: 'partially_refunded', refundedAmount: 1500 });
    expect(await settled(paid)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500, refunds: [[1500, 'succeeded']] });
    expect(callsFor(paid.id, 'alipay.trade.refund')).toHaveLength(0);
  });

  test('rejecting it refunds the remainder at Alipay → refunded', async () => {
    const paid = await heldThenPortalRefund();
    const rejected = await rejectHeldPayment(reviewDeps(), paid.id);

    // At Alipay: the portal's 15.00 and our 45.00, and the trade is closed.
    const trade = alipay.trade(paid.id);
    expect([...trade.refunds.values()]).toEqual([1500, 4500]);
    expect(trade.status).toBe('TRADE_CLOSED');
    expect(callsFor(paid.id, 'alipay.trade.refund').map((call) => call.bizContent.refund_amount)).toEqual(['45.00']);

    // What the reviewer is answered, and what the buyer and the books see.
    expect(rejected).toMatchObject({ status: 'refunded', refundedAmount: AMOUNT });
    const final = await settled(paid);
    expect(final).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT });
    expect(final.refunds.sort()).toEqual([[1500, 'succeeded'], [4500, 'succeeded']].sort());
  });
});

describe('validly signed notifications that are not trade notifications', () => {
  let paid: Paid;
  beforeAll(async () => {
    paid = await alipayCheckout();
    alipay.pay(paid.id);
  });

  const eventRows = async () => Number((await kalos.gateway.db.one<{ n: string }>("SELECT count(*) AS n FROM webhook_events WHERE provider = 'alipay'"))!.n);
  const allFacts = async () => Number((await kalos.gateway.db.one<{ n: string }>('SELECT count(*) AS n FROM payment_facts'))!.n);

  const genuine = () => Object.fromEntries(new URLSearchParams(alipay.notification(paid.id))) as Record<string, string | undefined>;
  const without = (...names: string[]) => {
    const fields = genuine();
    for (const name of [...names, 'sign', 'sign_type']) delete fields[name];
    return fields;
  };

  test.each<[string, () => Record<string, string | undefined>]>([
    ['nothing but a signature', () => ({})],
    ['only app_id and seller_id', () => ({ app_id: APP_ID, seller_id: alipay.sellerId })],
    ['no notify_id', () => without('notify_id')],
    ['no notify_type', () => without('notify_type')],
    ['no out_trade_no', () => without('out_trade_no')],
    ['no trade_status', () => without('trade_status')],
    ['no total_amount', () => without('total_amount')],
    ['an unreadable total_amount', () => ({ ...without(), total_amount: 'sixty' })],
    ['a total_amount with three decimals', () => ({ ...without(), total_amount: '60.001' })],
    ['an unreadable refund_fee', () => ({ ...without(), refund_fee: 'NaN', gmt_refund: '2026-01-01 00:00:00' })],
    ['gmt_refund with no refund_fee', () => ({ ...without(), gmt_refund: '2026-01-01 00:00:00' })],
  ])('%s → 400 failure, no effect, never 500', async (_name, fields) => {
    const [eventsBefore, factsBefore] = [await eventRows(), await allFacts()];
    const res = await notify(alipay.signNotification(fields()));
    expect({ status: res.status, text: res.text }).toEqual({ status: 400, text: 'failure' });
    expect([await eventRows(), await allFacts()]).toEqual([eventsBefore, factsBefore]);
    expect(await history(paid)).toEqual(['requires_payment']);
  });
});

describe('every notification delivered twice, in a shuffled order', () => {
  /** Paid, refunded 10.00 then 15.00 in the portal: three notifications, each sent twice in a seeded shuffle. */
  async function notifications() {
    const { paid, succeeded } = await paidAtAlipay();
    alipay.portalRefund(paid.id, 1000);
    const first = alipay.notification(paid.id);
    alipay.portalRefund(paid.id, 1500);
    const second = alipay.notification(paid.id);
    return { paid, bodies: [succeeded, first, second] };
  }

  test.each([1, 2, 3, 4])('seed %i: the same final state, one fact and one webhook_events row per notification', async (seed) => {
    const { paid, bodies } = await notifications();
    const sent = shuffled([...bodies, ...bodies], seed);
    await deliver(sent);
    const final = await settled(paid);
    expect({ sent: sent.map((body) => new URLSearchParams(body).get('refund_fee')), final }).toMatchObject({
      final: { status: 'partially_refunded', refunded_amount: 2500, row: { captured_amount: String(AMOUNT), refunded_amount: '2500' } },
    });
    expect(final.refunds.reduce((sum, [amount]) => sum + Number(amount), 0)).toBe(2500);
    expect(await factCount(paid)).toBe(bodies.length);
    const stored = await kalos.gateway.db.many<{ event_id: string }>("SELECT event_id FROM webhook_events WHERE provider = 'alipay' AND payment_id = $1", [paid.id]);
    expect(stored.map((row) => row.event_id).sort()).toEqual(bodies.map((body) => new URLSearchParams(body).get('notify_id')).sort());
  });

  test('the full-refund story delivered twice at once, concurrently, ends refunded with one fact per notification', async () => {
    const { paid, succeeded } = await paidAtAlipay();
    alipay.portalRefund(paid.id, 2000);
    const partial = alipay.notification(paid.id);
    alipay.portalRefund(paid.id, 4000);
    const full = alipay.notification(paid.id);
    const bodies = [succeeded, partial, full];
    const replies = await Promise.all(shuffled([...bodies, ...bodies], 7).map((body) => notify(body)));
    expect(replies.map((reply) => [reply.status, reply.text])).toEqual(Array(6).fill([200, 'success']));
    expect(await settled(paid)).toMatchObject({ status: 'refunded', refunded_amount: AMOUNT });
    expect(await factCount(paid)).toBe(3);
  });
});

/** Expiry and reconcile look at every payment in the database, so these run on a gateway (and database) of their own. */
describe('expiry and reconcile, on a gateway of their own', () => {
  let own: TestGateway;
  beforeEach(async () => {
    own = await startTestGateway({ env: alipayEnv() });
  });
  afterEach(async () => {
    await own?.stop();
  });

  test('expiry asks Alipay first: a trade paid without a notification is not canceled; unpaid ones are, and their trades closed', async () => {
    const { paid } = await paidAtAlipay(own);
    const unpaid = await alipayCheckout(own);
    const neverOpened = await alipayCheckout(own, { opened: false });

    const summary = await expireAbandonedPayments(reconcileDeps(own), { olderThanSeconds: 0 });
    expect(summary).toMatchObject({ examined: 3, failed: 0 });

    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
    expect(alipay.trade(paid.id).status).toBe('TRADE_SUCCESS');
    expect(callsFor(paid.id, 'alipay.trade.close')).toHaveLength(0);

    expect(await history(unpaid)).toEqual(['requires_payment', 'canceled']);
    expect(callsFor(unpaid.id, 'alipay.trade.close')).toHaveLength(1);
    expect(alipay.trade(unpaid.id).status).toBe('TRADE_CLOSED');
    expect(await paymentRow(unpaid)).toMatchObject({ status: 'canceled', session_close_outstanding: false });

    // A trade Alipay never saw cannot be closed, and needs no closing.
    expect(await history(neverOpened)).toEqual(['requires_payment', 'canceled']);
    expect(await paymentRow(neverOpened)).toMatchObject({ status: 'canceled', session_close_outstanding: false });

    await deliver([alipay.notification(paid.id)], own);
    expect(await history(paid)).toEqual(['requires_payment', 'succeeded']);
    expect(await expireAbandonedPayments(reconcileDeps(own), { olderThanSeconds: 0 })).toEqual({ examined: 0, changed: 0, failed: 0 });
  });

  test('30 abandoned checkouts and one paid without a notification (the newest): reconcile with limit 10 reaches it', async () => {
    const abandoned: Paid[] = [];
    // Some buyers opened the order string and walked away; some never opened it.
    for (let i = 0; i < 30; i++) abandoned.push(await alipayCheckout(own, { opened: i % 2 === 0 }));
    const { paid } = await paidAtAlipay(own);
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
