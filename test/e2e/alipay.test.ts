import { reconcileStuckPayments } from '../../src/payments/reconcile';
import { FakeAlipayGateway, generateRsaKeyPair, pem } from '../fakes/alipay-gateway';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

const APP_ID = '2021000122671080';
const NOTIFY_URL = 'https://pay.example.com/v1/webhooks/alipay';
const appKeys = generateRsaKeyPair();
const alipayKeys = generateRsaKeyPair();

describe('Alipay through the gateway: app pay, RSA2 notifications, query and refunds', () => {
  let alipay: FakeAlipayGateway;
  let test: TestGateway;
  /** Each payment comes from its own buyer and phone, so the risk layer's velocity rules stay out of these tests. */
  const buyerOf = new Map<string, string>();
  let buyers = 0;

  beforeAll(async () => {
    alipay = new FakeAlipayGateway({ appId: APP_ID, appPublicKey: appKeys.publicKey, alipayKeys });
    test = await startTestGateway({
      env: {
        ALIPAY_APP_ID: APP_ID,
        ALIPAY_PRIVATE_KEY: pem.pkcs8(appKeys),
        ALIPAY_PUBLIC_KEY: pem.spki(alipayKeys),
        ALIPAY_GATEWAY_URL: await alipay.start(),
        ALIPAY_NOTIFY_URL: NOTIFY_URL,
        ALIPAY_SELLER_ID: alipay.sellerId,
      },
    });
  });
  afterAll(async () => {
    await test?.stop();
    await alipay?.stop();
  });

  async function alipayCheckout(body: Record<string, unknown> = {}) {
    buyers += 1;
    const token = await test.token(`alipay-buyer-${buyers}`);
    const created = await checkout(test, token, { provider: 'alipay', device: aDevice({ id: `alipay-phone-${buyers}` }), ...body });
    if (created.body.id) buyerOf.set(created.body.id, token);
    return created;
  }

  /** A CNY checkout through Alipay whose order string the buyer opened in the Alipay app. */
  async function openedPayment(): Promise<string> {
    const created = await alipayCheckout();
    expect(created.status).toBe(201);
    alipay.openOrder(created.body.next_action.order_string);
    return created.body.id;
  }

  async function paidPayment(): Promise<string> {
    const id = await openedPayment();
    alipay.pay(id);
    return id;
  }

  const notify = (body: string) => test.http.post('/v1/webhooks/alipay').type('form').send(body);

  const order = async (id: string) => (await test.http.get(`/v1/orders/${id}`).set('Authorization', `Bearer ${buyerOf.get(id)}`)).body;
  const statuses = async (id: string) => (await order(id)).history.map((entry: { status: string }) => entry.status);

  async function expectAnswered(body: string, status: number, text: 'success' | 'failure') {
    const res = await notify(body);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe(text);
  }

  describe('checkout', () => {
    it('answers 201 with an alipay_app order string Alipay accepts, priced from the catalog', async () => {
      const created = await alipayCheckout({ sku: 'battle_pass_s1', location: { lat: 31.23, lon: 121.47 } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ status: 'requires_payment', amount: 6800, currency: 'CNY', provider: 'alipay', next_action: { type: 'alipay_app' } });
      const orderString: string = created.body.next_action.order_string;
      expect(alipay.openOrder(orderString)).toMatchObject({ outTradeNo: created.body.id, totalFen: 6800, subject: 'Season 1 Battle Pass' });
      expect(new URLSearchParams(orderString).get('notify_url')).toBe(NOTIFY_URL);
      for (const personal of [`alipay-buyer-${buyers}`, `alipay-phone-${buyers}`, '31.23', '121.47']) expect(decodeURIComponent(orderString)).not.toContain(personal);
    });

    it('refuses an item priced in another currency with a 400', async () => {
      const res = await alipayCheckout({ sku: 'skin_aurora' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid', param: 'provider' });
    });
  });

  describe('notifications', () => {
    it('settles a payment on TRADE_SUCCESS and answers the plain text success', async () => {
      const id = await paidPayment();
      await expectAnswered(alipay.notification(id), 200, 'success');
      expect(await order(id)).toMatchObject({ status: 'succeeded', next_action: null });
    });

    it('settles on TRADE_FINISHED too, and a later TRADE_FINISHED after TRADE_SUCCESS changes nothing', async () => {
      const finishedFirst = await paidPayment();
      await expectAnswered(alipay.notification(finishedFirst, { trade_status: 'TRADE_FINISHED' }), 200, 'success');
      expect((await order(finishedFirst)).status).toBe('succeeded');

      const id = await paidPayment();
      await expectAnswered(alipay.notification(id), 200, 'success');
      await expectAnswered(alipay.notification(id, { trade_status: 'TRADE_FINISHED' }), 200, 'success');
      expect(await statuses(id)).toEqual(['requires_payment', 'succeeded']);
    });

    it('cancels a trade Alipay closed unpaid', async () => {
      const id = await openedPayment();
      await expectAnswered(alipay.notification(id, { trade_status: 'TRADE_CLOSED' }), 200, 'success');
      expect((await order(id)).status).toBe('canceled');
    });

    it('applies the same notification delivered concurrently exactly once', async () => {
      const id = await paidPayment();
      const body = alipay.notification(id);
      const replies = await Promise.all(Array.from({ length: 5 }, () => notify(body)));
      expect(replies.map((res) => [res.status, res.text])).toEqual(Array.from({ length: 5 }, () => [200, 'success']));
      expect(await statuses(id)).toEqual(['requires_payment', 'succeeded']);
      const notifyId = new URLSearchParams(body).get('notify_id');
      const events = await test.gateway.db.many('SELECT outcome FROM webhook_events WHERE provider = $1 AND event_id = $2', ['alipay', notifyId]);
      expect(events).toEqual([{ outcome: 'applied' }]);
    });

    it('never moves a payment backwards when notifications arrive out of order', async () => {
      const id = await openedPayment();
      const waiting = alipay.notification(id);
      alipay.pay(id);
      await expectAnswered(alipay.notification(id), 200, 'success');
      await expectAnswered(waiting, 200, 'success');
      await expectAnswered(alipay.notification(id, { trade_status: 'TRADE_CLOSED' }), 200, 'success');
      expect(await statuses(id)).toEqual(['requires_payment', 'succeeded']);
    });

    it('answers failure with 400 to a forged signature, another app_id or another seller_id, and changes nothing', async () => {
      const id = await paidPayment();
      const forger = generateRsaKeyPair();
      const genuine = Object.fromEntries(new URLSearchParams(alipay.notification(id)));
      await expectAnswered(alipay.signNotification(genuine, forger.privateKey), 400, 'failure');
      await expectAnswered(alipay.notification(id).replace('total_amount=60.00', 'total_amount=0.60'), 400, 'failure');
      await expectAnswered(alipay.notification(id, { app_id: '2021000000009999' }), 400, 'failure');
      await expectAnswered(alipay.notification(id, { seller_id: '2088999999999999' }), 400, 'failure');
      expect(await statuses(id)).toEqual(['requires_payment']);
    });

    it('never marks a payment succeeded for a signed notification with another amount: it is held for review', async () => {
      const id = await paidPayment();
      await expectAnswered(alipay.notification(id, { total_amount: '0.60' }), 200, 'success');
      expect(await statuses(id)).toEqual(['requires_payment', 'held_for_review']);
    });

    it('acknowledges a signed notification for an out_trade_no that is not ours, and changes nothing', async () => {
      const id = await paidPayment();
      const body = alipay.notification(id, { out_trade_no: 'pay_NotOursAtAll0000000' });
      await expectAnswered(body, 200, 'success');
      expect(await statuses(id)).toEqual(['requires_payment']);
      const notifyId = new URLSearchParams(body).get('notify_id');
      expect(await test.gateway.db.many('SELECT outcome, payment_id FROM webhook_events WHERE event_id = $1', [notifyId])).toEqual([
        { outcome: 'unknown_payment', payment_id: null },
      ]);
    });
  });

  describe('query and refunds', () => {
    const reconcile = () =>
      reconcileStuckPayments(
        { db: test.gateway.db, providers: test.gateway.providers, webhooks: test.gateway.webhooks, logger: test.gateway.logger },
        { olderThanSeconds: 0 },
      );

    it('settles through alipay.trade.query a payment whose notification was lost', async () => {
      const unopened = (await alipayCheckout()).body.id;
      const waiting = await openedPayment();
      const lost = await paidPayment();
      await reconcile();
      expect((await order(lost)).status).toBe('succeeded');
      expect((await order(waiting)).status).toBe('requires_payment');
      expect((await order(unopened)).status).toBe('requires_payment');
      await reconcile();
      expect(await statuses(lost)).toEqual(['requires_payment', 'succeeded']);
      expect(alipay.calls.filter((call) => call.method === 'alipay.trade.query' && call.bizContent.out_trade_no === lost)).not.toHaveLength(0);
    });

    it('refunds part then the rest, each confirmed by the refund query, and the refund notifications change nothing more', async () => {
      const id = await paidPayment();
      await expectAnswered(alipay.notification(id), 200, 'success');

      const part = await test.gateway.refunds.refund({ paymentId: id, amount: 1500, reason: 'requested_by_customer' });
      expect(part).toMatchObject({ amount: 1500, status: 'succeeded' });
      expect(await order(id)).toMatchObject({ status: 'partially_refunded', refunded_amount: 1500 });
      await expectAnswered(alipay.notification(id), 200, 'success');

      const rest = await test.gateway.refunds.refund({ paymentId: id, reason: 'requested_by_customer' });
      expect(rest).toMatchObject({ amount: 4500, status: 'succeeded' });
      await expectAnswered(alipay.notification(id), 200, 'success');

      const final = await order(id);
      expect(final).toMatchObject({ status: 'refunded', refunded_amount: 6000 });
      expect(final.refunds.map((refund: { id: string; amount: number; status: string }) => [refund.id, refund.amount, refund.status])).toEqual([
        [part.id, 1500, 'succeeded'],
        [rest.id, 4500, 'succeeded'],
      ]);
      expect([...alipay.trade(id).refunds]).toEqual([
        [part.id, 1500],
        [rest.id, 4500],
      ]);
      expect(alipay.calls.filter((call) => call.bizContent.out_trade_no === id).map((call) => call.method)).toEqual([
        'alipay.trade.refund',
        'alipay.trade.fastpay.refund.query',
        'alipay.trade.refund',
        'alipay.trade.fastpay.refund.query',
      ]);
      expect(await statuses(id)).toEqual(['requires_payment', 'succeeded', 'partially_refunded', 'refunded']);
    });
  });
});
