import { createSign, createVerify, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small local stand-in for Alipay's OpenAPI gateway (`gateway.do`), written from Alipay's documentation rather
 * than from our code: it verifies every request's RSA2 signature with the app's public key, keeps trades in
 * memory, answers in Alipay's format (`{"<method>_response": {...}, "sign": "..."}`) signed with "Alipay's" private
 * key, and builds signed async notifications. Amount strings are handled here on their own (no shared helper), so
 * a formatting bug on our side shows up as a mismatch.
 */

export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateRsaKeyPair(): RsaKeyPair {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

export const pem = {
  pkcs1: (pair: RsaKeyPair) => pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  pkcs8: (pair: RsaKeyPair) => pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  spki: (pair: RsaKeyPair) => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

export type FakeTradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';

export interface FakeTrade {
  outTradeNo: string;
  tradeNo: string;
  totalFen: number;
  subject: string;
  status: FakeTradeStatus;
  /** out_request_no → refunded fen, in the order received. */
  refunds: Map<string, number>;
  lastRefundRequest?: string;
}

export interface GatewayCall {
  method: string;
  bizContent: Record<string, unknown>;
}

type Reply = Record<string, unknown>;

/** Alipay's RSA2 content: keys sorted, `key=value` joined by `&`, values as they are (not URL-encoded). */
export function signContent(params: Record<string, string>, exclude: string[]): string {
  return Object.keys(params)
    .filter((key) => !exclude.includes(key) && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

export function rsa2Sign(content: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

function rsa2Verify(content: string, signature: string, publicKey: KeyObject): boolean {
  return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signature, 'base64');
}

export function fenToYuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

export function yuanToFen(yuan: string): number | undefined {
  const match = /^(\d+)\.(\d{2})$/.exec(yuan);
  return match ? Number(match[1]) * 100 + Number(match[2]) : undefined;
}

function beijingNow(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

const success = (fields: Reply): Reply => ({ code: '10000', msg: 'Success', ...fields });
const businessError = (subCode: string, subMsg: string): Reply => ({ code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg });

export interface FakeAlipayOptions {
  appId: string;
  /** The app's public key: every request and order string must verify against it. */
  appPublicKey: KeyObject;
  /** "Alipay's" private key: signs answers and notifications. */
  alipayKeys: RsaKeyPair;
  sellerId?: string;
}

export class FakeAlipayGateway {
  readonly trades = new Map<string, FakeTrade>();
  readonly calls: GatewayCall[] = [];
  /** When true, refund queries leave refund_status out, as Alipay does while a refund is in flight. */
  refundsInFlight = false;
  readonly sellerId: string;
  private readonly scripted: { method: string; reply: Reply }[] = [];
  private tamperNext = false;
  private server?: Server;
  private tradeCounter = 0;

  constructor(private readonly options: FakeAlipayOptions) {
    this.sellerId = options.sellerId ?? '2088000000000001';
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway.do`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server?.close((error) => (error ? reject(error) : resolve())) ?? resolve());
  }

  /** The next answer to `method` is `reply` (signed as usual), whatever the trade says. */
  scriptReply(method: string, reply: Reply): void {
    this.scripted.push({ method, reply });
  }

  /** The next answer is changed after signing, as a man in the middle would. */
  tamperWithNextAnswer(): void {
    this.tamperNext = true;
  }

  /**
   * What the Alipay app does with the order string: verifies our signature, then opens a trade waiting for the
   * buyer. Throws when the signature or a field is wrong, so tests see exactly what Alipay would refuse.
   */
  openOrder(orderString: string): FakeTrade {
    if (typeof orderString !== 'string') throw new Error('no order string: was the checkout refused or sent to verification?');
    const params = Object.fromEntries(new URLSearchParams(orderString));
    if (!rsa2Verify(signContent(params, ['sign']), params.sign ?? '', this.options.appPublicKey)) {
      throw new Error('order string signature does not verify with the app public key');
    }
    if (params.app_id !== this.options.appId || params.method !== 'alipay.trade.app.pay' || params.sign_type !== 'RSA2') {
      throw new Error('order string is not an alipay.trade.app.pay request of this app');
    }
    const biz = JSON.parse(params.biz_content) as Record<string, string>;
    const totalFen = yuanToFen(biz.total_amount);
    if (totalFen === undefined || totalFen < 1) throw new Error(`total_amount ${biz.total_amount} is not yuan with two decimals`);
    const trade: FakeTrade = {
      outTradeNo: biz.out_trade_no,
      tradeNo: `2026${String(++this.tradeCounter).padStart(24, '0')}`,
      totalFen,
      subject: biz.subject,
      status: 'WAIT_BUYER_PAY',
      refunds: new Map(),
    };
    this.trades.set(trade.outTradeNo, trade);
    return trade;
  }

  /** The buyer pays: the trade succeeds (a notification is built separately, so tests choose when it arrives). */
  pay(outTradeNo: string): FakeTrade {
    const trade = this.trade(outTradeNo);
    trade.status = 'TRADE_SUCCESS';
    return trade;
  }

  /**
   * Someone refunds in Alipay's merchant portal: the money goes back at once under a request number of the
   * portal's own (never one of ours), and a full refund closes the trade. `notification` then reports it.
   */
  portalRefund(outTradeNo: string, fen: number, requestNo = `portal${randomBytes(8).toString('hex')}`): FakeTrade {
    const trade = this.trade(outTradeNo);
    if (trade.status !== 'TRADE_SUCCESS') throw new Error(`portal refund of ${outTradeNo}: the trade is ${trade.status}`);
    if (fen < 1 || this.refundedFen(trade) + fen > trade.totalFen) throw new Error(`portal refund of ${fen} fen is more than is left on ${outTradeNo}`);
    trade.refunds.set(requestNo, fen);
    trade.lastRefundRequest = requestNo;
    if (this.refundedFen(trade) === trade.totalFen) trade.status = 'TRADE_CLOSED';
    return trade;
  }

  trade(outTradeNo: string): FakeTrade {
    const trade = this.trades.get(outTradeNo);
    if (!trade) throw new Error(`no fake trade ${outTradeNo}`);
    return trade;
  }

  /** The async notification Alipay would post for the trade as it stands now; `overrides` change fields before signing. */
  notification(outTradeNo: string, overrides: Record<string, string | undefined> = {}): string {
    const trade = this.trade(outTradeNo);
    const refunded = this.refundedFen(trade);
    const fields: Record<string, string | undefined> = {
      notify_time: beijingNow(),
      notify_type: 'trade_status_sync',
      notify_id: randomBytes(16).toString('hex'),
      app_id: this.options.appId,
      charset: 'utf-8',
      version: '1.0',
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      seller_id: this.sellerId,
      trade_status: trade.status,
      total_amount: fenToYuan(trade.totalFen),
      receipt_amount: fenToYuan(trade.totalFen),
      buyer_pay_amount: fenToYuan(trade.totalFen),
      subject: trade.subject,
      gmt_create: beijingNow(),
      gmt_payment: trade.status === 'WAIT_BUYER_PAY' ? undefined : beijingNow(),
      ...(refunded > 0 ? { out_biz_no: trade.lastRefundRequest, refund_fee: fenToYuan(refunded), gmt_refund: beijingNow() } : {}),
      ...overrides,
    };
    return this.signNotification(fields);
  }

  /** Signs notification fields as Alipay does (sign and sign_type left out of the content) and form-encodes them. */
  signNotification(fields: Record<string, string | undefined>, signingKey: KeyObject = this.options.alipayKeys.privateKey): string {
    const present = Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const sign = rsa2Sign(signContent(present, ['sign', 'sign_type']), signingKey);
    return new URLSearchParams({ ...present, sign_type: 'RSA2', sign }).toString();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params: Record<string, string> = {
      ...Object.fromEntries(new URL(req.url ?? '/', 'http://fake').searchParams),
      ...Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
    };
    const method = params.method ?? 'unknown';
    const reply = this.answer(method, params);
    const body = JSON.stringify(reply);
    const signed = `{"${method.replaceAll('.', '_')}_response":${body},"sign":"${rsa2Sign(body, this.options.alipayKeys.privateKey)}"}`;
    res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
    res.end(this.takeTamper() ? signed.replace('"code":"10000"', '"code":"10000","tampered":"1"') : signed);
  }

  private takeTamper(): boolean {
    const tamper = this.tamperNext;
    this.tamperNext = false;
    return tamper;
  }

  private answer(method: string, params: Record<string, string>): Reply {
    if (!rsa2Verify(signContent(params, ['sign']), params.sign ?? '', this.options.appPublicKey)) {
      return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' };
    }
    if (params.app_id !== this.options.appId) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' };
    const bizContent = JSON.parse(params.biz_content ?? '{}') as Record<string, string>;
    this.calls.push({ method, bizContent });
    const scripted = this.scripted.findIndex((entry) => entry.method === method);
    if (scripted >= 0) return this.scripted.splice(scripted, 1)[0].reply;
    const trade = this.trades.get(bizContent.out_trade_no);
    if (!trade) return businessError('ACQ.TRADE_NOT_EXIST', '交易不存在');
    switch (method) {
      case 'alipay.trade.query':
        return success({
          trade_no: trade.tradeNo,
          out_trade_no: trade.outTradeNo,
          trade_status: trade.status,
          total_amount: fenToYuan(trade.totalFen),
          buyer_logon_id: '159****5620',
        });
      case 'alipay.trade.close':
        if (trade.status !== 'WAIT_BUYER_PAY') return businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        trade.status = 'TRADE_CLOSED';
        return success({ trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo });
      case 'alipay.trade.refund':
        return this.refund(trade, bizContent);
      case 'alipay.trade.fastpay.refund.query':
        return this.refundQuery(trade, bizContent.out_request_no);
      default:
        return { code: '40004', msg: 'Business Failed', sub_code: 'isv.invalid-method', sub_msg: '不存在的方法名' };
    }
  }

  private refund(trade: FakeTrade, bizContent: Record<string, string>): Reply {
    const fen = yuanToFen(bizContent.refund_amount ?? '');
    const requestNo = bizContent.out_request_no;
    if (fen === undefined || fen < 1 || !requestNo) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-parameter', sub_msg: '参数无效' };
    const repeated = trade.refunds.get(requestNo);
    if (repeated === undefined) {
      if (trade.status !== 'TRADE_SUCCESS') return businessError('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      if (this.refundedFen(trade) + fen > trade.totalFen) return businessError('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      trade.refunds.set(requestNo, fen);
      trade.lastRefundRequest = requestNo;
      if (this.refundedFen(trade) === trade.totalFen) trade.status = 'TRADE_CLOSED';
    }
    return success({
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      fund_change: repeated === undefined ? 'Y' : 'N',
      refund_fee: fenToYuan(this.refundedFen(trade)),
    });
  }

  private refundQuery(trade: FakeTrade, requestNo: string | undefined): Reply {
    const fen = requestNo === undefined ? undefined : trade.refunds.get(requestNo);
    // Alipay answers 10000 with no refund fields when it has no such refund.
    if (fen === undefined) return success({ trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo });
    return success({
      trade_no: trade.tradeNo,
      out_trade_no: trade.outTradeNo,
      out_request_no: requestNo,
      total_amount: fenToYuan(trade.totalFen),
      refund_amount: fenToYuan(fen),
      ...(this.refundsInFlight ? {} : { refund_status: 'REFUND_SUCCESS' }),
    });
  }

  private refundedFen(trade: FakeTrade): number {
    return [...trade.refunds.values()].reduce((sum, fen) => sum + fen, 0);
  }
}
