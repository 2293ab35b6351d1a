import type { Sql } from '../db/database';
import { Payment } from './payment';
import type { PaymentStatus } from './status';

/** next_action only means something while the payer still has to act. */
function actionableNextAction(payment: Payment) {
  return payment.status === 'requires_payment' || payment.status === 'requires_verification' ? payment.nextAction : null;
}

/** The public payment object of API.md: no personal data, amounts in minor units. */
export function paymentView(payment: Payment) {
  return {
    id: payment.id,
    object: 'payment' as const,
    status: payment.status,
    amount: payment.amount,
    currency: payment.currency,
    item: { sku: payment.sku, name: payment.itemName, quantity: payment.quantity },
    provider: payment.provider,
    risk: { decision: payment.riskDecision, score: payment.riskScore },
    refunded_amount: payment.refundedAmount,
    next_action: actionableNextAction(payment),
    created_at: payment.createdAt.toISOString(),
    updated_at: payment.updatedAt.toISOString(),
  };
}

export type PaymentView = ReturnType<typeof paymentView>;

export interface HistoryEntry {
  status: PaymentStatus;
  at: Date;
}

export async function paymentHistory(sql: Sql, paymentId: string): Promise<HistoryEntry[]> {
  const rows = await sql.many<{ to_status: PaymentStatus; at: Date }>(
    'SELECT to_status, at FROM payment_status_history WHERE payment_id = $1 ORDER BY id',
    [paymentId],
  );
  return rows.map((row) => ({ status: row.to_status, at: row.at }));
}

interface RefundRow {
  id: string;
  amount: string;
  currency: string;
  status: string;
  reason: string;
  created_at: Date;
  updated_at: Date;
}

export async function orderDetailView(sql: Sql, payment: Payment) {
  const [history, refunds] = await Promise.all([
    paymentHistory(sql, payment.id),
    sql.many<RefundRow>(
      'SELECT id, amount, currency, status, reason, created_at, updated_at FROM refunds WHERE payment_id = $1 ORDER BY created_at, id',
      [payment.id],
    ),
  ]);
  return {
    ...paymentView(payment),
    history: history.map((entry) => ({ status: entry.status, at: entry.at.toISOString() })),
    refunds: refunds.map((refund) => ({
      id: refund.id,
      object: 'refund' as const,
      amount: Number(refund.amount),
      currency: refund.currency,
      status: refund.status,
      reason: refund.reason,
      created_at: refund.created_at.toISOString(),
      updated_at: refund.updated_at.toISOString(),
    })),
    // After-sale cases arrive with the after-sale issue; the field is part of the contract already.
    after_sales: [] as unknown[],
  };
}
