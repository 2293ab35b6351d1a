import type { Sql } from '../db/database';
import { notFound } from '../shared/errors';
import { lockPayment, Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';
import { canTransition, PaymentStatus } from './status';

export type TransitionResult =
  | { outcome: 'applied'; payment: Payment; from: PaymentStatus }
  /** Already in the target status: a duplicate or a retry. */
  | { outcome: 'unchanged'; payment: Payment }
  /** Not a legal move from where the payment stands (late, out of order, or a mistaken request). */
  | { outcome: 'refused'; payment: Payment };

export interface TransitionChanges {
  reviewReason?: string | null;
}

/**
 * The only way a payment's status changes. Runs inside the caller's transaction: locks the row, checks the
 * move against the lifecycle table, updates, and appends a history row. Several gateway processes can
 * race on one payment: the row lock orders them, and the loser sees the winner's status.
 */
export async function transition(
  tx: Sql,
  paymentId: string,
  to: PaymentStatus,
  source: string,
  changes: TransitionChanges = {},
): Promise<TransitionResult> {
  const current = await lockPayment(tx, paymentId);
  if (!current) throw notFound('payment');
  if (current.status === to) return { outcome: 'unchanged', payment: current };
  if (!canTransition(current.status, to)) return { outcome: 'refused', payment: current };
  const row = await tx.one<PaymentRow>(
    `UPDATE payments
        SET status = $2, updated_at = now(),
            review_reason = CASE WHEN $3::boolean THEN $4 ELSE review_reason END
      WHERE id = $1
      RETURNING ${PAYMENT_COLUMNS}`,
    [paymentId, to, changes.reviewReason !== undefined, changes.reviewReason ?? null],
  );
  await appendHistory(tx, paymentId, current.status, to, source);
  return { outcome: 'applied', payment: toPayment(row!), from: current.status };
}

export async function appendHistory(tx: Sql, paymentId: string, from: PaymentStatus | null, to: PaymentStatus, source: string) {
  await tx.many('INSERT INTO payment_status_history (payment_id, from_status, to_status, source) VALUES ($1, $2, $3, $4)', [
    paymentId,
    from,
    to,
    source,
  ]);
}

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
