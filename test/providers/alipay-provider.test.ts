import { Env, parseSettings } from '../../src/config/settings';
import { beijingTimestamp, fromBeijingTime } from '../../src/providers/alipay/mapping';
import { createAlipayProvider } from '../../src/providers/alipay/provider';
import { alipaySettingsSchema, EnabledAlipaySettings } from '../../src/providers/alipay/settings';
import { CreateSessionInput, PaymentProvider, ProviderError, WebhookVerificationError } from '../../src/providers/types';
import { ApiError } from '../../src/shared/errors';
import { newId } from '../../src/shared/ids';
import { FakeAlipayGateway, generateRsaKeyPair, pem, RsaKeyPair } from '../fakes/alipay-gateway';

const APP_ID = '2021000122671080';
const appKeys = generateRsaKeyPair();
const alipayKeys = generateRsaKeyPair();

function settings(gatewayUrl: string, overrides: Env = {}): EnabledAlipaySettings {
  const { value, issues } = parseSettings(alipaySettingsSchema, {
    ALIPAY_APP_ID: APP_ID,
    ALIPAY_PRIVATE_KEY: pem.pkcs1(appKeys),
    ALIPAY_PUBLIC_KEY: pem.spki(alipayKeys),
    ALIPAY_GATEWAY_URL: gatewayUrl,
    ALIPAY_NOTIFY_URL: 'https://pay.example.com/v1/webhooks/alipay',
    ...overrides,
  });
  if (!value?.enabled) throw new Error(`test settings refused: ${JSON.stringify(issues)}`);
  return value;
}

function checkout(amount: number, currency = 'CNY'): CreateSessionInput {
  return {
    paymentId: newId('pay'),
    money: { amount, currency },
    item: { sku: 'gems_600', name: '600 Gems', quantity: 1 },
    idempotencyKey: newId('idem'),
    captureMethod: 'automatic',
  };
}

async function failureOf(work: Promise<unknown>): Promise<ProviderError> {
  try {
    await work;
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
  throw new Error('expected a ProviderError');
}

const webhook = (body: string) => ({ rawBody: Buffer.from(body), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

describe('Alipay provider against the fake Alipay gateway', () => {
  let gateway: FakeAlipayGateway;
  let gatewayUrl: string;
  let alipay: PaymentProvider;

  beforeAll(async () => {
    gateway = new FakeAlipayGateway({ appId: APP_ID, appPublicKey: appKeys.publicKey, alipayKeys });
    gatewayUrl = await gateway.start();
    alipay = createAlipayProvider(settings(gatewayUrl));
  });
  afterAll(() => gateway.stop());

  /** A checkout whose order string the buyer opened in the Alipay app (so Alipay knows the trade). */
  async function openedTrade(amount = 1000) {
    const input = checkout(amount);
    const session = await alipay.createSession(input);
    if (session.nextAction.type !== 'alipay_app') throw new Error('expected alipay_app');
    gateway.openOrder(session.nextAction.order_string);
    return { input, paymentId: input.paymentId, operation: { paymentId: input.paymentId, providerRef: session.providerRef, money: input.money } };
  }

  async function paidTrade(amount = 1000) {
    const trade = await openedTrade(amount);
    gateway.pay(trade.paymentId);
    return trade;
  }

  describe('order string', () => {
    it.each([
      [1, '0.01'],
      [99, '0.99'],
      [100, '1.00'],
      [12345, '123.45'],
      [9999999, '99999.99'],
    ])('is signed with the app key and carries %i fen as total_amount %s', async (fen, yuan) => {
      const input = checkout(fen);
      const session = await alipay.createSession(input);
      expect(session.providerRef).toBe(input.paymentId);
      expect(session.nextAction.type).toBe('alipay_app');
      const orderString = session.nextAction.type === 'alipay_app' ? session.nextAction.order_string : '';
      const trade = gateway.openOrder(orderString);
      expect(trade).toMatchObject({ outTradeNo: input.paymentId, totalFen: fen, subject: '600 Gems' });
      const params = Object.fromEntries(new URLSearchParams(orderString));
      expect(params).toMatchObject({ method: 'alipay.trade.app.pay', app_id: APP_ID, sign_type: 'RSA2', notify_url: 'https://pay.example.com/v1/webhooks/alipay' });
      expect(JSON.parse(params.biz_content)).toEqual({
        out_trade_no: input.paymentId,
        total_amount: yuan,
        subject: '600 Gems',
        product_code: 'QUICK_MSECURITY_PAY',
        timeout_express: '30m',
      });
    });

    it('no longer verifies once a single field is changed', async () => {
      const session = await alipay.createSession(checkout(600));
      const orderString = session.nextAction.type === 'alipay_app' ? session.nextAction.order_string : '';
      expect(() => gateway.openOrder(orderString.replace('6.00', '0.01'))).toThrow(/signature does not verify/);
    });

    it('is signed just as well with a PKCS8 app key and a configured timeout', async () => {
      const pkcs8 = createAlipayProvider(settings(gatewayUrl, { ALIPAY_PRIVATE_KEY: pem.pkcs8(appKeys), ALIPAY_TIMEOUT_EXPRESS: '2h' }));
      const session = await pkcs8.createSession(checkout(12345));
      const orderString = session.nextAction.type === 'alipay_app' ? session.nextAction.order_string : '';
      expect(gateway.openOrder(orderString).totalFen).toBe(12345);
      expect(JSON.parse(new URLSearchParams(orderString).get('biz_content') ?? '{}').timeout_express).toBe('2h');
    });

    it('keeps Alipay-forbidden characters out of the subject', async () => {
      const input = { ...checkout(100), item: { sku: 'bundle', name: 'Gems & Coins = 1/2 price', quantity: 1 } };
      const session = await alipay.createSession(input);
      const orderString = session.nextAction.type === 'alipay_app' ? session.nextAction.order_string : '';
      expect(gateway.openOrder(orderString).subject).toBe('Gems Coins 1 2 price');
    });

    it('is stamped in Beijing time whatever the server time zone', () => {
      expect(beijingTimestamp(new Date('2026-01-01T20:30:05Z'))).toBe('2026-01-02 04:30:05');
    });

    it('is refused with a 400 for a currency other than CNY', async () => {
      const attempt = alipay.createSession(checkout(600, 'USD'));
      await expect(attempt).rejects.toBeInstanceOf(ApiError);
      await expect(attempt).rejects.toMatchObject({ status: 400, code: 'parameter_invalid', param: 'provider' });
      expect(alipay.capabilities).toEqual({ manualCapture: false, currencies: ['CNY'] });
    });
  });

  describe('notifications', () => {
    it('maps TRADE_SUCCESS to a succeeded payment with its notify_id and amount', async () => {
      const { paymentId } = await paidTrade(12345);
      const body = gateway.notification(paymentId);
      const event = await alipay.parseWebhook(webhook(body));
      expect(event).toEqual({
        kind: 'payment',
        eventId: new URLSearchParams(body).get('notify_id'),
        ref: { paymentId },
        state: 'succeeded',
        money: { amount: 12345, currency: 'CNY' },
        // gmt_payment, written in Beijing time (UTC+8), read as the instant it names.
        occurredAt: fromBeijingTime(new URLSearchParams(body).get('gmt_payment')!),
      });
    });

    it('reads Alipay times as Beijing time, to the millisecond when given, and refuses what is not a time', () => {
      expect(fromBeijingTime('2026-12-02 08:30:05')).toEqual(new Date('2026-12-02T00:30:05.000Z'));
      expect(fromBeijingTime('2026-01-01 07:59:59.5')).toEqual(new Date('2025-12-31T23:59:59.500Z'));
      for (const unreadable of ['2026-12-02T08:30:05', '2026-12-02 8:30:05', 'yesterday', '', undefined]) expect(fromBeijingTime(unreadable)).toBeUndefined();
    });

    it('maps TRADE_FINISHED to succeeded, WAIT_BUYER_PAY to pending and an unpaid TRADE_CLOSED to canceled', async () => {
      const { paymentId } = await openedTrade(600);
      const stateFor = async (trade_status: string) => {
        const event = await alipay.parseWebhook(webhook(gateway.notification(paymentId, { trade_status })));
        return event.kind === 'payment' ? event.state : event.kind;
      };
      expect(await stateFor('TRADE_FINISHED')).toBe('succeeded');
      expect(await stateFor('WAIT_BUYER_PAY')).toBe('pending');
      expect(await stateFor('TRADE_CLOSED')).toBe('canceled');
    });

    it('turns refund notifications (partial on TRADE_SUCCESS, full on TRADE_CLOSED) into refund events', async () => {
      const { paymentId, operation } = await paidTrade(1000);
      await alipay.refund({ ...operation, refundId: 're_part', money: { amount: 300, currency: 'CNY' }, paymentMoney: operation.money });
      const partial = await alipay.parseWebhook(webhook(gateway.notification(paymentId)));
      expect(partial).toMatchObject({
        kind: 'refund',
        ref: { paymentId },
        refund: { refundId: 're_part', state: 'succeeded', totalRefunded: 300 },
      });
      await alipay.refund({ ...operation, refundId: 're_rest', money: { amount: 700, currency: 'CNY' }, paymentMoney: operation.money });
      expect(gateway.trade(paymentId).status).toBe('TRADE_CLOSED');
      const full = await alipay.parseWebhook(webhook(gateway.notification(paymentId)));
      expect(full).toMatchObject({ kind: 'refund', refund: { refundId: 're_rest', state: 'succeeded', totalRefunded: 1000 } });
    });

    it('verifies values holding % exactly as received', async () => {
      const { paymentId } = await paidTrade(100);
      const event = await alipay.parseWebhook(webhook(gateway.notification(paymentId, { subject: '100% Gems %E4' })));
      expect(event).toMatchObject({ kind: 'payment', state: 'succeeded' });
    });

    it('acknowledges a verified notification of another type without acting on it', async () => {
      const { paymentId } = await paidTrade(100);
      const event = await alipay.parseWebhook(webhook(gateway.notification(paymentId, { notify_type: 'trade_settle_sync' })));
      expect(event).toMatchObject({ kind: 'ignored', type: 'trade_settle_sync' });
    });

    describe('refuses with a verification error', () => {
      let paymentId: string;
      beforeAll(async () => {
        ({ paymentId } = await paidTrade(1000));
      });
      const refused = (body: string) => expect(alipay.parseWebhook(webhook(body))).rejects.toBeInstanceOf(WebhookVerificationError);
      const fieldsOf = (body: string) => Object.fromEntries(new URLSearchParams(body));

      it('a notification signed with another key', async () => {
        const forger: RsaKeyPair = generateRsaKeyPair();
        const fields = fieldsOf(gateway.notification(paymentId));
        await refused(gateway.signNotification(fields, forger.privateKey));
      });

      it('a notification changed after signing', async () => {
        await refused(gateway.notification(paymentId).replace('total_amount=10.00', 'total_amount=0.01'));
      });

      it('a notification without a signature, or signed with RSA instead of RSA2', async () => {
        const params = new URLSearchParams(gateway.notification(paymentId));
        params.delete('sign');
        await refused(params.toString());
        await refused(gateway.notification(paymentId).replace('sign_type=RSA2', 'sign_type=RSA'));
        await refused('');
      });

      it('a correctly signed notification for another app_id', async () => {
        await refused(gateway.notification(paymentId, { app_id: '2021000000009999' }));
      });

      it('a correctly signed notification for another seller_id when the seller is configured', async () => {
        const strict = createAlipayProvider(settings(gatewayUrl, { ALIPAY_SELLER_ID: gateway.sellerId }));
        await expect(strict.parseWebhook(webhook(gateway.notification(paymentId)))).resolves.toMatchObject({ kind: 'payment' });
        await expect(strict.parseWebhook(webhook(gateway.notification(paymentId, { seller_id: '2088999999999999' })))).rejects.toBeInstanceOf(
          WebhookVerificationError,
        );
      });

      it('a correctly signed notification with an unreadable amount or no notify_id', async () => {
        for (const total_amount of ['10.005', '-1.00', 'ten', '1e3']) await refused(gateway.notification(paymentId, { total_amount }));
        await refused(gateway.notification(paymentId, { notify_id: undefined }));
      });

      it('a notification that repeats a field', async () => {
        await refused(`${gateway.notification(paymentId)}&trade_status=TRADE_SUCCESS`);
      });
    });

    it('answers Alipay in plain text: success once processed, failure otherwise', () => {
      expect(alipay.webhookReply('processed')).toEqual({ status: 200, contentType: 'text/plain', body: 'success' });
      expect(alipay.webhookReply('rejected')).toEqual({ status: 400, contentType: 'text/plain', body: 'failure' });
      expect(alipay.webhookReply('failed')).toEqual({ status: 500, contentType: 'text/plain', body: 'failure' });
    });
  });

  describe('trade query', () => {
    it('reports pending before the buyer opened the order, then the trade status with its amount', async () => {
      const input = checkout(600);
      await alipay.createSession(input);
      const operation = { paymentId: input.paymentId, providerRef: input.paymentId, money: input.money };
      expect(await alipay.fetchStatus(operation)).toMatchObject({ state: 'pending' });
      const session = await alipay.createSession(input);
      gateway.openOrder(session.nextAction.type === 'alipay_app' ? session.nextAction.order_string : '');
      expect(await alipay.fetchStatus(operation)).toMatchObject({ state: 'pending', money: { amount: 600, currency: 'CNY' } });
      gateway.pay(input.paymentId);
      const paid = await alipay.fetchStatus(operation);
      expect(paid).toMatchObject({ state: 'succeeded', money: { amount: 600, currency: 'CNY' } });
      expect(await alipay.fetchStatus(operation)).toEqual(paid);
      expect(gateway.calls.filter((call) => call.method === 'alipay.trade.query').at(-1)?.bizContent).toEqual({ out_trade_no: input.paymentId });
    });

    it('refuses an answer that was changed after Alipay signed it', async () => {
      const { operation } = await paidTrade(600);
      gateway.tamperWithNextAnswer();
      await expect(alipay.fetchStatus(operation)).rejects.toMatchObject({ name: 'ProviderError', kind: 'indeterminate' });
      await expect(alipay.fetchStatus(operation)).resolves.toMatchObject({ state: 'succeeded' });
    });

    it('refuses a signed answer about another trade', async () => {
      const { operation } = await paidTrade(600);
      gateway.scriptReply('alipay.trade.query', { code: '10000', msg: 'Success', out_trade_no: 'pay_other', trade_status: 'TRADE_SUCCESS', total_amount: '6.00' });
      await expect(alipay.fetchStatus(operation)).rejects.toMatchObject({ kind: 'indeterminate' });
    });
  });

  describe('refunds', () => {
    it('refunds part then the rest, each under its own out_request_no, confirmed by the refund query', async () => {
      const { paymentId, operation } = await paidTrade(1000);
      const first = await alipay.refund({ ...operation, refundId: 're_first', money: { amount: 250, currency: 'CNY' }, paymentMoney: operation.money });
      expect(first.state).toBe('succeeded');
      const second = await alipay.refund({ ...operation, refundId: 're_second', money: { amount: 750, currency: 'CNY' }, paymentMoney: operation.money });
      expect(second.state).toBe('succeeded');
      expect([...gateway.trade(paymentId).refunds]).toEqual([
        ['re_first', 250],
        ['re_second', 750],
      ]);
      const calls = gateway.calls.filter((call) => call.bizContent.out_trade_no === paymentId).map((call) => [call.method, call.bizContent]);
      expect(calls).toEqual([
        ['alipay.trade.refund', { out_trade_no: paymentId, out_request_no: 're_first', refund_amount: '2.50' }],
        ['alipay.trade.fastpay.refund.query', { out_trade_no: paymentId, out_request_no: 're_first' }],
        ['alipay.trade.refund', { out_trade_no: paymentId, out_request_no: 're_second', refund_amount: '7.50' }],
        ['alipay.trade.fastpay.refund.query', { out_trade_no: paymentId, out_request_no: 're_second' }],
      ]);
      expect(await alipay.fetchStatus(operation)).toMatchObject({ state: 'canceled' });
    });

    it('reuses the out_request_no on a retry, so money moves once', async () => {
      const { paymentId, operation } = await paidTrade(1000);
      const input = { ...operation, refundId: 're_retry', money: { amount: 400, currency: 'CNY' }, paymentMoney: operation.money };
      gateway.scriptReply('alipay.trade.refund', { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' });
      await expect(alipay.refund(input)).rejects.toMatchObject({ kind: 'indeterminate' });
      expect((await alipay.refund(input)).state).toBe('succeeded');
      expect((await alipay.refund(input)).state).toBe('succeeded');
      expect([...gateway.trade(paymentId).refunds]).toEqual([['re_retry', 400]]);
    });

    it('stays pending while Alipay has not confirmed the refund', async () => {
      const { operation } = await paidTrade(1000);
      gateway.refundsInFlight = true;
      try {
        const result = await alipay.refund({ ...operation, refundId: 're_slow', money: { amount: 100, currency: 'CNY' }, paymentMoney: operation.money });
        expect(result.state).toBe('pending');
      } finally {
        gateway.refundsInFlight = false;
      }
    });

    it('is refused for good beyond the amount paid', async () => {
      const { operation } = await paidTrade(1000);
      const attempt = alipay.refund({ ...operation, refundId: 're_too_much', money: { amount: 1001, currency: 'CNY' }, paymentMoney: operation.money });
      await expect(attempt).rejects.toMatchObject({ kind: 'terminal', message: expect.stringContaining('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL') });
    });
  });

  describe('close and capture', () => {
    it('closes an unpaid trade, and closing it again still counts as done', async () => {
      const { paymentId, operation } = await openedTrade(600);
      await alipay.cancel(operation);
      expect(gateway.trade(paymentId).status).toBe('TRADE_CLOSED');
      await expect(alipay.cancel(operation)).resolves.toBeUndefined();
    });

    it('treats a trade Alipay never saw as closed, and refuses to close a paid one', async () => {
      const input = checkout(600);
      await expect(alipay.cancel({ paymentId: input.paymentId, providerRef: input.paymentId, money: input.money })).resolves.toBeUndefined();
      const { operation } = await paidTrade(600);
      await expect(alipay.cancel(operation)).rejects.toMatchObject({ kind: 'terminal', message: expect.stringContaining('succeeded') });
    });

    it('has no separate capture', async () => {
      const { operation } = await paidTrade(600);
      await expect(alipay.capture(operation)).rejects.toMatchObject({ name: 'ProviderError', kind: 'terminal' });
    });
  });

  describe('failures', () => {
    it('sorts Alipay answers into retryable, indeterminate and terminal', async () => {
      const { operation } = await paidTrade(600);
      const kindFor = async (reply: Record<string, string>) => {
        gateway.scriptReply('alipay.trade.query', reply);
        return (await failureOf(alipay.fetchStatus(operation))).kind;
      };
      expect(await kindFor({ code: '40004', msg: 'Business Failed', sub_code: 'ACQ.SYSTEM_ERROR', sub_msg: '系统错误' })).toBe('retryable');
      expect(await kindFor({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' })).toBe('indeterminate');
      expect(await kindFor({ code: '40006', msg: 'Insufficient Permissions', sub_code: 'isv.insufficient-isv-permissions' })).toBe('terminal');
    });

    it('is refused by Alipay when signed with a key Alipay does not know', async () => {
      const stranger = generateRsaKeyPair();
      const wrongKey = createAlipayProvider(settings(gatewayUrl, { ALIPAY_PRIVATE_KEY: pem.pkcs1(stranger) }));
      const { operation } = await paidTrade(600);
      await expect(wrongKey.fetchStatus(operation)).rejects.toMatchObject({ kind: 'terminal', message: expect.stringContaining('isv.invalid-signature') });
    });

    it('calls a connection refused retryable, and never quotes keys or buyer data in errors', async () => {
      const closed = new FakeAlipayGateway({ appId: APP_ID, appPublicKey: appKeys.publicKey, alipayKeys });
      const url = await closed.start();
      await closed.stop();
      const offline = createAlipayProvider(settings(url));
      const { operation } = await paidTrade(600);
      const error = await failureOf(offline.fetchStatus(operation));
      expect(error).toMatchObject({ name: 'ProviderError', kind: 'retryable', message: expect.stringContaining('ECONNREFUSED') });
      gateway.tamperWithNextAnswer();
      const tampered = await failureOf(alipay.fetchStatus(operation));
      const printed = `${tampered.message} ${String(tampered.cause ?? '')} ${error.message}`;
      expect(printed).not.toContain('159****5620');
      expect(printed).not.toContain(pem.pkcs1(appKeys).split('\n')[1]);
    });
  });
});
