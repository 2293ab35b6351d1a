import type { Sql } from '../db/database';
import { lockPayment, Payment } from './payment';
import { transition, TransitionResult } from './state-machine';
import type { PaymentStatus } from './status';

/** The status that matches how much of a paid payment has gone back. */
export function statusForRefunded(payment: Pick<Payment, 'amount'>, refunded: number): PaymentStatus {
  if (refunded <= 0) return 'succeeded';
  return refunded >= payment.amount ? 'refunded' : 'partially_refunded';
}

/**
 * Records that `total` minor units of the payment are now refunded. The total is a fact whatever the
 * status can do (a refund during a dispute leaves the payment disputed), so it is always kept, and it only
 * grows, so a late or repeated refund notice cannot undo a later one. The status follows when it may.
 */
export async function applyRefundedTotal(tx: Sql, payment: Payment, total: number, source: string): Promise<TransitionResult> {
  const refunded = Math.min(total, payment.amount);
  await tx.many('UPDATE payments SET refunded_amount = GREATEST(refunded_amount, $2), updated_at = now() WHERE id = $1', [payment.id, refunded]);
  // A refund does not settle a dispute: the payment stays disputed until the dispute closes.
  if (payment.status === 'disputed') return { outcome: 'unchanged', payment: (await lockPayment(tx, payment.id))! };
  return transition(tx, payment.id, statusForRefunded(payment, refunded), source);
}

/** Sum of the payment's refunds in the given statuses: `succeeded` is money gone back; with `pending`, money promised. */
export async function refundTotal(tx: Sql, paymentId: string, statuses: readonly ('pending' | 'succeeded')[] = ['succeeded']): Promise<number> {
  const row = await tx.one<{ total: string }>('SELECT COALESCE(SUM(amount), 0) AS total FROM refunds WHERE payment_id = $1 AND status = ANY($2)', [
    paymentId,
    statuses,
  ]);
  return Number(row?.total ?? 0);
}
