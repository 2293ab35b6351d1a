import type { Sql } from '../db/database';
import { invalidRequest } from '../shared/errors';
import { Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';

export interface OrderPage {
  payments: Payment[];
  hasMore: boolean;
}

/**
 * A user's payments, newest first, `limit` at a time after the `startingAfter` payment. The cursor is
 * compared inside SQL: read back into JavaScript, its timestamp would lose its microseconds and the page
 * boundary would skip payments created in the same millisecond.
 */
export async function listUserPayments(sql: Sql, userHash: string, page: { limit: number; startingAfter?: string }): Promise<OrderPage> {
  if (page.startingAfter) {
    const cursor = await sql.one('SELECT 1 AS found FROM payments WHERE id = $1 AND user_hash = $2', [page.startingAfter, userHash]);
    if (!cursor) throw invalidRequest('parameter_invalid', 'starting_after does not name one of your payments.', 'starting_after');
  }
  const rows = await sql.many<PaymentRow>(
    `SELECT ${PAYMENT_COLUMNS} FROM payments
      WHERE user_hash = $1
        AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM payments WHERE id = $2 AND user_hash = $1))
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [userHash, page.startingAfter ?? null, page.limit + 1],
  );
  return { payments: rows.slice(0, page.limit).map(toPayment), hasMore: rows.length > page.limit };
}
