import type { Sql } from '../db/database';
import type { Payment } from './payment';
import { transition, TransitionResult } from './state-machine';

/**
 * Records that `total` minor units of the payment are now refunded. The total only grows, so a late or
 * repeated refund notice cannot undo a later one; the status follows the total.
 */
export async function applyRefundedTotal(tx: Sql, payment: Payment, total: number, source: string): Promise<TransitionResult> {
  const target = total >= payment.amount ? 'refunded' : 'partially_refunded';
  const result = await transition(tx, payment.id, target, source, { refundedAmount: Math.min(total, payment.amount) });
  if (result.outcome === 'unchanged') {
    await tx.many('UPDATE payments SET refunded_amount = GREATEST(refunded_amount, $2), updated_at = now() WHERE id = $1', [
      payment.id,
      Math.min(total, payment.amount),
    ]);
  }
  return result;
}

export async function succeededRefundTotal(tx: Sql, paymentId: string): Promise<number> {
  const row = await tx.one<{ total: string }>(
    "SELECT COALESCE(SUM(amount), 0) AS total FROM refunds WHERE payment_id = $1 AND status = 'succeeded'",
    [paymentId],
  );
  return Number(row?.total ?? 0);
}
