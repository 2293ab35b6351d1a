import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database';
import type { ProviderRegistry } from '../providers/registry';
import { ProviderError } from '../providers/types';
import { invalidRequest, invalidStateTransition, notFound } from '../shared/errors';
import { newId } from '../shared/ids';
import { findPayment, lockPayment, Payment } from './payment';
import { applyRefundedTotal, refundTotal } from './refund-totals';
import { REFUNDABLE_STATUSES } from './status';

export interface RefundRequest {
  paymentId: string;
  /** Minor units; the whole remaining amount when omitted. */
  amount?: number;
  reason: string;
}

export interface RefundRecord {
  id: string;
  paymentId: string;
  amount: number;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed';
}

interface RefundRow {
  id: string;
  payment_id: string;
  amount: string;
  currency: string;
}

export interface RefundDeps {
  db: Database;
  providers: ProviderRegistry;
  logger: Logger;
  onStatusChange: (payment: Payment) => void;
}

/**
 * Step 1 of a refund, inside the caller's transaction and under the payment's row lock (`payment` must
 * come from lockPayment): reserves the amount as a pending refund row, checked against what is left.
 */
export async function reserveRefund(
  tx: Sql,
  payment: Payment,
  request: Omit<RefundRequest, 'paymentId'>,
  options: { rejectingReview?: boolean } = {},
): Promise<RefundRecord> {
  // A held payment is refunded only in full, by rejecting it in review: a partial refund would strand it.
  const refundable = options.rejectingReview ? payment.status === 'held_for_review' : REFUNDABLE_STATUSES.includes(payment.status);
  if (!refundable) {
    const hint = payment.status === 'held_for_review' ? ' Reject it in review instead.' : '';
    throw invalidStateTransition(`A payment in status ${payment.status} cannot be refunded.${hint}`);
  }
  const remaining = payment.amount - (await refundTotal(tx, payment.id, ['pending', 'succeeded']));
  const amount = request.amount ?? remaining;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > remaining) {
    throw invalidRequest('parameter_invalid', `The refund amount must be between 1 and ${remaining} (minor units).`, 'amount');
  }
  const refund: RefundRecord = { id: newId('re'), paymentId: payment.id, amount, currency: payment.currency, status: 'pending' };
  await tx.many("INSERT INTO refunds (id, payment_id, amount, currency, status, reason) VALUES ($1, $2, $3, $4, 'pending', $5)", [
    refund.id, payment.id, amount, payment.currency, request.reason,
  ]);
  return refund;
}

/**
 * Refunds in three steps, so that a crash between them never refunds twice or loses one: (1) reserve the
 * amount as a pending refund row under the payment's row lock; (2) ask the provider, keyed by our refund
 * id so a retry is the same refund; (3) record the result and the new total.
 */
export function createRefundService(deps: RefundDeps) {
  async function record(refund: RefundRecord, state: RefundRecord['status'], providerRefundId?: string): Promise<RefundRecord> {
    const changed = await deps.db.transaction(async (tx) => {
      await tx.many('UPDATE refunds SET status = $2, provider_refund_id = COALESCE($3, provider_refund_id), updated_at = now() WHERE id = $1 AND status = $4', [
        refund.id, state, providerRefundId ?? null, 'pending',
      ]);
      if (state !== 'succeeded') return undefined;
      const payment = (await lockPayment(tx, refund.paymentId))!;
      const result = await applyRefundedTotal(tx, payment, await refundTotal(tx, payment.id), `refund:${refund.id}`);
      return result.outcome === 'applied' ? result.payment : undefined;
    });
    if (changed) deps.onStatusChange(changed);
    return { ...refund, status: state };
  }

  /** Steps 2 and 3 for a reserved refund. */
  async function settle(pending: RefundRecord, payment: Payment): Promise<RefundRecord> {
    const provider = deps.providers.get(payment.provider);
    if (!provider || !payment.providerRef) throw invalidStateTransition('This payment has no provider session to refund through.');
    try {
      const result = await provider.refund({
        paymentId: payment.id,
        providerRef: payment.providerRef,
        refundId: pending.id,
        money: { amount: pending.amount, currency: pending.currency },
        paymentMoney: { amount: payment.amount, currency: payment.currency },
      });
      return await record(pending, result.state, result.providerRefundId);
    } catch (error) {
      if (error instanceof ProviderError && error.kind === 'terminal') return record(pending, 'failed');
      // Retryable or indeterminate: the refund stays pending; the provider's webhook or a reconcile settles it.
      deps.logger.warn({ err: error, refundId: pending.id }, 'refund left pending');
      return pending;
    }
  }

  async function refund(request: RefundRequest): Promise<RefundRecord> {
    const { pending, payment } = await deps.db.transaction(async (tx) => {
      const locked = await lockPayment(tx, request.paymentId);
      if (!locked) throw notFound('payment');
      return { pending: await reserveRefund(tx, locked, request), payment: locked };
    });
    return settle(pending, payment);
  }

  /**
   * Asks again about refunds left pending (the provider timed out, or Alipay had not confirmed yet): the
   * same refund id is sent, so the provider answers for the refund it already has rather than paying twice.
   */
  async function settlePendingRefunds(options: { olderThanSeconds: number; limit?: number }): Promise<{ examined: number; settled: number }> {
    const rows = await deps.db.many<RefundRow>(
      `SELECT id, payment_id, amount, currency FROM refunds
        WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2`,
      [options.olderThanSeconds, options.limit ?? 500],
    );
    let settled = 0;
    for (const row of rows) {
      const pending: RefundRecord = { id: row.id, paymentId: row.payment_id, amount: Number(row.amount), currency: row.currency, status: 'pending' };
      try {
        if ((await settle(pending, (await findPayment(deps.db, row.payment_id))!)).status !== 'pending') settled += 1;
      } catch (error) {
        deps.logger.warn({ err: error, refundId: row.id }, 'could not settle a pending refund');
      }
    }
    return { examined: rows.length, settled };
  }

  return { refund, settle, settlePendingRefunds };
}

export type RefundService = ReturnType<typeof createRefundService>;
