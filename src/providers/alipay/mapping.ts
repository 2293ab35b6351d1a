import { formatMajorUnits, Money, parseMajorUnits } from '../../shared/money';
import {
  CreateSessionInput,
  ProviderEvent,
  ProviderPaymentState,
  ProviderStatusSnapshot,
  RefundNotice,
  WebhookVerificationError,
} from '../types';

/**
 * Alipay's wire format (OpenAPI 2.0, `gateway.do`) and its mapping onto our vocabulary. Field names are spelled
 * as Alipay spells them; behaviour (signing, calls, error sorting) lives in provider.ts and errors.ts.
 */

export const ALIPAY_METHODS = {
  appPay: 'alipay.trade.app.pay',
  query: 'alipay.trade.query',
  refund: 'alipay.trade.refund',
  refundQuery: 'alipay.trade.fastpay.refund.query',
  close: 'alipay.trade.close',
} as const;

export type AlipayMethod = (typeof ALIPAY_METHODS)[keyof typeof ALIPAY_METHODS];

/** Alipay app pay settles in CNY only. */
export const ALIPAY_CURRENCY = 'CNY';

/** `code` values of the common reply envelope. */
export const REPLY_SUCCESS = '10000';
/** "Service unavailable": Alipay's documented meaning is "the outcome is unknown, query before assuming". */
export const REPLY_OUTCOME_UNKNOWN = '20000';

/** The envelope inside every `<method>_response`. */
export interface AlipayReply {
  code: string;
  msg: string;
  sub_code?: string;
  sub_msg?: string;
}

export interface TradeQueryReply extends AlipayReply {
  out_trade_no?: string;
  trade_no?: string;
  trade_status?: string;
  total_amount?: string;
}

export interface TradeRefundReply extends AlipayReply {
  trade_no?: string;
  /** `Y` when this call moved money; `N` when it repeated an already-accepted out_request_no. */
  fund_change?: 'Y' | 'N';
  /** Total refunded on the trade so far. */
  refund_fee?: string;
}

export interface RefundQueryReply extends AlipayReply {
  out_request_no?: string;
  refund_amount?: string;
  /** Only REFUND_SUCCESS means done; Alipay leaves it out while the refund is unknown or still in flight. */
  refund_status?: string;
}

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_CLOSED' | 'TRADE_SUCCESS' | 'TRADE_FINISHED';
const TRADE_STATUSES: ReadonlySet<string> = new Set<TradeStatus>(['WAIT_BUYER_PAY', 'TRADE_CLOSED', 'TRADE_SUCCESS', 'TRADE_FINISHED']);

export function isTradeStatus(value: string | undefined): value is TradeStatus {
  return value !== undefined && TRADE_STATUSES.has(value);
}

/**
 * The one place Alipay trade statuses become ours. TRADE_FINISHED is a paid trade past its refund window;
 * TRADE_CLOSED is both "closed unpaid" and "fully refunded": a notification tells the two apart by carrying
 * refund fields (see notificationEvent), and the state machine never moves a succeeded payment to canceled.
 */
export function tradeState(status: TradeStatus): ProviderPaymentState {
  switch (status) {
    case 'WAIT_BUYER_PAY':
      return 'pending';
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'succeeded';
    case 'TRADE_CLOSED':
      return 'canceled';
  }
}

/** `yyyy-MM-dd HH:mm:ss[.S]` in Beijing time (how Alipay writes every time), or undefined when unreadable. */
export function fromBeijingTime(value: string | undefined): Date | undefined {
  const parts = value?.match(/^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number);
  const millis = Number((parts[7] ?? '0').padEnd(3, '0'));
  const at = new Date(Date.UTC(year, month - 1, day, hour - 8, minute, second, millis));
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** Alipay's `timestamp` is Beijing time (UTC+8) whatever the server's zone; the SDK would use local time. */
export function beijingTimestamp(now: Date = new Date()): string {
  const beijing = new Date(now.getTime() + 8 * 60 * 60 * 1000);
  return beijing.toISOString().slice(0, 19).replace('T', ' ');
}

/** Alipay refuses `/`, `=` and `&` in a subject and caps it at 256 characters. */
export function orderSubject(itemName: string): string {
  return itemName.replace(/[/=&]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 256);
}

export function cnyFromYuan(value: string | undefined): Money | undefined {
  if (value === undefined) return undefined;
  const amount = parseMajorUnits(value, ALIPAY_CURRENCY);
  return amount === undefined ? undefined : { amount, currency: ALIPAY_CURRENCY };
}

export interface AppPayOptions {
  notifyUrl: string;
  timeoutExpress: string;
}

/** Parameters of the order string the Alipay app opens: everything but app_id, method, charset, version, sign. */
export function appPayParameters(input: CreateSessionInput, options: AppPayOptions) {
  return {
    timestamp: beijingTimestamp(),
    notify_url: options.notifyUrl,
    bizContent: {
      out_trade_no: input.paymentId,
      total_amount: formatMajorUnits(input.money),
      subject: orderSubject(input.item.name),
      product_code: 'QUICK_MSECURITY_PAY',
      timeout_express: options.timeoutExpress,
    },
  };
}

export function tradeQueryContent(paymentId: string) {
  return { out_trade_no: paymentId };
}

export function tradeCloseContent(paymentId: string) {
  return { out_trade_no: paymentId };
}

/** `out_request_no` is our refund id, so a retried refund is the same refund to Alipay, never a second one. */
export function tradeRefundContent(paymentId: string, refundId: string, money: Money) {
  return { out_trade_no: paymentId, out_request_no: refundId, refund_amount: formatMajorUnits(money) };
}

export function refundQueryContent(paymentId: string, refundId: string) {
  return { out_trade_no: paymentId, out_request_no: refundId };
}

export function refundState(reply: RefundQueryReply): 'succeeded' | 'pending' {
  return reply.refund_status === 'REFUND_SUCCESS' ? 'succeeded' : 'pending';
}

/** A query answer as a snapshot; undefined when Alipay answered with a status or amount we cannot read. */
export function querySnapshot(paymentId: string, reply: TradeQueryReply): ProviderStatusSnapshot | undefined {
  const money = cnyFromYuan(reply.total_amount);
  if (!isTradeStatus(reply.trade_status) || !money) return undefined;
  return {
    state: tradeState(reply.trade_status),
    money,
    observationId: `alipay_query:${paymentId}:${reply.trade_status}:${money.amount}`,
  };
}

/** No trade exists yet: the buyer has not opened the order string in the Alipay app. */
export function notStartedSnapshot(paymentId: string): ProviderStatusSnapshot {
  return { state: 'pending', observationId: `alipay_query:${paymentId}:TRADE_NOT_EXIST` };
}

export type NotificationFields = Readonly<Record<string, string>>;

function requiredField(fields: NotificationFields, name: string): string {
  const value = fields[name];
  if (value === undefined || value === '') throw new WebhookVerificationError(`The Alipay notification has no ${name}.`);
  return value;
}

function requiredAmount(fields: NotificationFields, name: string): Money {
  const money = cnyFromYuan(requiredField(fields, name));
  if (!money) throw new WebhookVerificationError(`The Alipay notification has an unreadable ${name}.`);
  return money;
}

/**
 * A refund shows up as a trade notification carrying refund fields: TRADE_SUCCESS after a partial refund,
 * TRADE_CLOSED after a full one. `refund_fee` is the running total on the trade and `out_biz_no` our
 * out_request_no (the refund id); the notification does not carry this one refund's own amount.
 */
function refundNotice(fields: NotificationFields): RefundNotice | undefined {
  if (fields.refund_fee === undefined && fields.gmt_refund === undefined) return undefined;
  const total = requiredAmount(fields, 'refund_fee');
  if (total.amount === 0) return undefined;
  return { refundId: fields.out_biz_no || undefined, state: 'succeeded', totalRefunded: total.amount };
}

/**
 * A verified notification as a ProviderEvent. A refund notification becomes a refund event (never "canceled");
 * a notification of another type or an unknown trade status is acknowledged and ignored.
 */
export function notificationEvent(fields: NotificationFields): ProviderEvent {
  const eventId = requiredField(fields, 'notify_id');
  const notifyType = requiredField(fields, 'notify_type');
  if (notifyType !== 'trade_status_sync') return { kind: 'ignored', eventId, type: notifyType };
  const status = requiredField(fields, 'trade_status');
  if (!isTradeStatus(status)) return { kind: 'ignored', eventId, type: `trade_status_sync:${status}` };
  const ref = { paymentId: requiredField(fields, 'out_trade_no') };
  const money = requiredAmount(fields, 'total_amount');
  const refund = refundNotice(fields);
  // Alipay's own time for what it reports, so a notice delivered a day late still counts as of then.
  const occurredAt = fromBeijingTime(refund ? fields.gmt_refund : fields.gmt_payment) ?? fromBeijingTime(fields.notify_time);
  const when = occurredAt ? { occurredAt } : {};
  if (refund) return { kind: 'refund', eventId, ref, refund, ...when };
  return { kind: 'payment', eventId, ref, state: tradeState(status), money, ...when };
}
