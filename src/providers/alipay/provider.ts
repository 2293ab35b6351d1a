import { AlipaySdk } from 'alipay-sdk';
import { invalidRequest } from '../../shared/errors';
import {
  PaymentOperationInput,
  PaymentProvider,
  ProviderError,
  ProviderEvent,
  ProviderStatusSnapshot,
  RefundInput,
  RefundResult,
  WebhookReply,
  WebhookRequest,
  WebhookVerificationError,
} from '../types';
import { alipayFailure, refusedBy } from './errors';
import {
  ALIPAY_CURRENCY,
  ALIPAY_METHODS,
  AlipayMethod,
  AlipayReply,
  appPayParameters,
  beijingTimestamp,
  NotificationFields,
  notificationEvent,
  notStartedSnapshot,
  querySnapshot,
  refundQueryContent,
  RefundQueryReply,
  refundState,
  REPLY_SUCCESS,
  tradeCloseContent,
  tradeQueryContent,
  TradeQueryReply,
  tradeRefundContent,
  TradeRefundReply,
} from './mapping';
import type { EnabledAlipaySettings } from './settings';

/** Alipay has not seen the trade yet: the buyer never opened the order string. */
const TRADE_NOT_EXIST = 'ACQ.TRADE_NOT_EXIST';
/** close on a trade that is already closed, or already paid: a query tells which. */
const TRADE_STATUS_ERROR = 'ACQ.TRADE_STATUS_ERROR';

/**
 * Alipay app pay through the official SDK: it signs every request and order string with the app private key and
 * verifies every answer and notification with the Alipay public key. The SDK (which holds the key) stays inside
 * this closure, so nothing that logs the provider can print it.
 */
export function createAlipayProvider(settings: EnabledAlipaySettings): PaymentProvider {
  const sdk = new AlipaySdk({
    appId: settings.appId,
    privateKey: settings.privateKey.reveal(),
    keyType: settings.keyFormat,
    alipayPublicKey: settings.alipayPublicKey,
    gateway: settings.gatewayUrl,
    signType: 'RSA2',
    camelcase: false,
  });

  /** One signed call whose answer's signature is checked; a non-10000 answer comes back for the caller to read. */
  async function call<T extends AlipayReply>(method: AlipayMethod, bizContent: object): Promise<T> {
    try {
      // validateSign: without it the SDK accepts an answer nobody signed.
      return (await sdk.exec(method, { timestamp: beijingTimestamp(), bizContent }, { validateSign: true })) as unknown as T;
    } catch (error) {
      throw alipayFailure(error, method);
    }
  }

  function expectSuccess<T extends AlipayReply>(method: AlipayMethod, reply: T): T {
    if (reply.code !== REPLY_SUCCESS) throw refusedBy(method, reply);
    return reply;
  }

  function verifiedNotification(rawBody: Buffer): NotificationFields {
    const pairs = [...new URLSearchParams(rawBody.toString('utf8'))];
    if (new Set(pairs.map(([name]) => name)).size !== pairs.length) {
      throw new WebhookVerificationError('The Alipay notification repeats a field.');
    }
    const fields: NotificationFields = Object.fromEntries(pairs);
    if (fields.sign_type !== 'RSA2') throw new WebhookVerificationError('The Alipay notification is not RSA2-signed.');
    if (!signatureVerifies(fields)) throw new WebhookVerificationError('The Alipay notification signature does not verify.');
    if (fields.app_id !== settings.appId) throw new WebhookVerificationError('The Alipay notification is for another app.');
    if (settings.sellerId !== undefined && fields.seller_id !== settings.sellerId) {
      throw new WebhookVerificationError('The Alipay notification is for another seller.');
    }
    return fields;
  }

  function signatureVerifies(fields: NotificationFields): boolean {
    try {
      // V2 verifies the values as received; V1 URL-decodes them again and throws on a `%`.
      return sdk.checkNotifySignV2(fields);
    } catch {
      return false;
    }
  }

  async function fetchStatus({ paymentId }: PaymentOperationInput): Promise<ProviderStatusSnapshot> {
    const reply = await call<TradeQueryReply>(ALIPAY_METHODS.query, tradeQueryContent(paymentId));
    if (reply.sub_code === TRADE_NOT_EXIST) return notStartedSnapshot(paymentId);
    const trade = expectSuccess(ALIPAY_METHODS.query, reply);
    const snapshot = trade.out_trade_no === paymentId ? querySnapshot(paymentId, trade) : undefined;
    if (!snapshot) {
      throw new ProviderError('alipay', 'indeterminate', 'Alipay trade.query answered for another trade, or with a status or amount we cannot read.');
    }
    return snapshot;
  }

  /** The refund was accepted; only the query says it is done. An unreadable query leaves it pending for a retry. */
  async function confirmRefund(paymentId: string, refundId: string): Promise<RefundResult['state']> {
    try {
      const reply = await call<RefundQueryReply>(ALIPAY_METHODS.refundQuery, refundQueryContent(paymentId, refundId));
      const refund = expectSuccess(ALIPAY_METHODS.refundQuery, reply);
      return refund.out_request_no === refundId ? refundState(refund) : 'pending';
    } catch (error) {
      if (error instanceof ProviderError) return 'pending';
      throw error;
    }
  }

  return {
    name: 'alipay',
    capabilities: { manualCapture: false, currencies: [ALIPAY_CURRENCY] },

    async createSession(input) {
      if (input.money.currency !== ALIPAY_CURRENCY) {
        throw invalidRequest('parameter_invalid', `Alipay accepts ${ALIPAY_CURRENCY} only; this item is priced in ${input.money.currency}.`, 'provider');
      }
      if (input.captureMethod === 'manual') {
        throw new ProviderError('alipay', 'terminal', 'Alipay app pay cannot hold funds for a later capture.');
      }
      const orderString = sdk.sdkExecute(ALIPAY_METHODS.appPay, appPayParameters(input, settings));
      // Alipay's trade_no exists only once the buyer pays; our payment id is the out_trade_no it echoes back.
      return { providerRef: input.paymentId, nextAction: { type: 'alipay_app', order_string: orderString } };
    },

    async parseWebhook({ rawBody }: WebhookRequest): Promise<ProviderEvent> {
      return notificationEvent(verifiedNotification(rawBody));
    },

    webhookReply(outcome): WebhookReply {
      switch (outcome) {
        case 'processed':
          return { status: 200, contentType: 'text/plain', body: 'success' };
        case 'rejected':
          return { status: 400, contentType: 'text/plain', body: 'failure' };
        case 'failed':
          return { status: 500, contentType: 'text/plain', body: 'failure' };
      }
    },

    fetchStatus,

    async refund({ paymentId, refundId, money }: RefundInput): Promise<RefundResult> {
      const reply = await call<TradeRefundReply>(ALIPAY_METHODS.refund, tradeRefundContent(paymentId, refundId, money));
      expectSuccess(ALIPAY_METHODS.refund, reply);
      return { state: await confirmRefund(paymentId, refundId) };
    },

    async capture() {
      throw new ProviderError('alipay', 'terminal', 'Alipay app pay has no separate capture: a paid trade is already captured.');
    },

    /**
     * A trade Alipay has not seen cannot be closed (ACQ.TRADE_NOT_EXIST), so that counts as done; the order string
     * itself stays payable until timeout_express, and a payment made in that window arrives as a normal notification.
     */
    async cancel(input: PaymentOperationInput) {
      const reply = await call<AlipayReply>(ALIPAY_METHODS.close, tradeCloseContent(input.paymentId));
      if (reply.code === REPLY_SUCCESS || reply.sub_code === TRADE_NOT_EXIST) return;
      if (reply.sub_code !== TRADE_STATUS_ERROR) throw refusedBy(ALIPAY_METHODS.close, reply);
      const { state } = await fetchStatus(input);
      if (state !== 'canceled') throw new ProviderError('alipay', 'terminal', `Alipay cannot close this trade: it is ${state}.`);
    },
  };
}
