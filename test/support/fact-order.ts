import type { ReconcileDeps } from '../../src/payments/reconcile';
import type { ReviewDeps } from '../../src/risk/review';
import type { TestGateway } from './gateway';

/** What the provider fact-order tests share: a paid order as its buyer and the books see it. */
export interface PaidOrder {
  k: TestGateway;
  token: string;
  id: string;
}

export interface OrderSeen {
  status: string;
  refunded_amount: number;
  history: { status: string }[];
  refunds: { amount: number; status: string }[];
}

export async function order(paid: PaidOrder): Promise<OrderSeen> {
  const res = await paid.k.http.get(`/v1/orders/${paid.id}`).set('Authorization', `Bearer ${paid.token}`);
  expect(res.status).toBe(200);
  return res.body as OrderSeen;
}

export const history = async (paid: PaidOrder) => (await order(paid)).history.map((entry) => entry.status);

export const paymentRow = (paid: PaidOrder) =>
  paid.k.gateway.db.one<Record<string, unknown>>(
    'SELECT status, refunded_amount, captured_amount, open_dispute, review_reason, session_close_outstanding FROM payments WHERE id = $1',
    [paid.id],
  );

export const factCount = async (paid: PaidOrder) =>
  Number((await paid.k.gateway.db.one<{ n: string }>('SELECT count(*) AS n FROM payment_facts WHERE payment_id = $1', [paid.id]))!.n);

/** What the buyer and the books see once the dust settles: the order, its refunds, and the payment's persisted totals. */
export async function settled(paid: PaidOrder) {
  const seen = await order(paid);
  return {
    status: seen.status,
    refunded_amount: seen.refunded_amount,
    refunds: seen.refunds.map((refund) => [refund.amount, refund.status]),
    row: await paymentRow(paid),
  };
}

export const reconcileDeps = (k: TestGateway): ReconcileDeps => ({ db: k.gateway.db, providers: k.gateway.providers, webhooks: k.gateway.webhooks, logger: k.gateway.logger });
export const reviewDeps = (k: TestGateway): ReviewDeps => ({ db: k.gateway.db, providers: k.gateway.providers, refunds: k.gateway.refunds, onStatusChange: () => undefined });
