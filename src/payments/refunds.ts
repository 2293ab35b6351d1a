import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database';
import type { ProviderRegistry } from '../providers/registry';
import { ProviderError, RefundResult } from '../providers/types';
import { invalidRequest, invalidStateTransition, notFound } from '../shared/errors';
import { newId } from '../shared/ids';
import { currentState, ownFact, recordFacts } from './fact-journal';
import type { FactKind, PaymentState } from './lifecycle';
import { findPayment, lockPayment, Payment } from './payment';
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
 * come from lockPayment, `state` from its facts): reserves the amount as a requested refund, checked
 * against what is left, so two refunds racing cannot together pay back more than was taken.
 */
export async function reserveRefund(
  tx: Sql,
  payment: Payment,
  state: PaymentState,
  request: Omit<RefundRequest, 'paymentId'>,
  options: { rejectingReview?: boolean } = {},
): Promise<RefundRecord> {
  // A held payment is refunded only by rejecting it in review: a partial refund would strand it.
  const refundable = options.rejectingReview ? state.status === 'held_for_review' : REFUNDABLE_STATUSES.includes(state.status);
  if (!refundable) {
    const hint = state.status === 'held_for_review' ? ' Reject it in review instead.' : '';
    throw invalidStateTransition(`A payment in status ${state.status} cannot be refunded.${hint}`);
  }
  const remaining = state.refundableAmount;
  const amount = request.amount ?? remaining;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > remaining) {
    throw invalidRequest('parameter_invalid', `The refund amount must be between 1 and ${remaining} (minor units).`, 'amount');
  }
  const refund: RefundRecord = { id: newId('re'), paymentId: payment.id, amount, currency: payment.currency, status: 'pending' };
  await tx.many("INSERT INTO refunds (id, payment_id, amount, currency, status, reason) VALUES ($1, $2, $3, $4, 'pending', $5)", [
    refund.id, payment.id, amount, payment.currency, request.reason,
  ]);
  await recordFacts(tx, payment.id, [
    ownFact('refund_requested', `refund:${refund.id}:requested`, { refundId: refund.id, money: { amount, currency: payment.currency } }),
  ]);
  return refund;
}

const RESULT_FACT: Record<RefundResult['state'], FactKind> = {
  pending: 'refund_pending',
  succeeded: 'refund_succeeded',
  // Our call was refused for good: no money moved (a provider's later word on the refund outranks this).
  failed: 'refund_refused',
};

/**
 * Refunds in three steps, so that a crash between them never refunds twice or loses one: (1) reserve the
 * amount as a requested refund under the payment's row lock; (2) ask the provider, keyed by our refund id
 * so a retry is the same refund; (3) record what the provider answered as a fact.
 */
export function createRefundService(deps: RefundDeps) {
  async function record(refund: RefundRecord, state: RefundRecord['status'], providerRefundId?: string): Promise<RefundRecord> {
    const recorded = await deps.db.transaction((tx) =>
      recordFacts(tx, refund.paymentId, [
        ownFact(RESULT_FACT[state], `refund:${refund.id}:${state}`, { refundId: refund.id, providerRefundId, money: { amount: refund.amount, currency: refund.currency } }),
      ]),
    );
    if (recorded.statusChanged) deps.onStatusChange(recorded.payment);
    const derived = recorded.state.refunds.find((candidate) => candidate.refundId === refund.id);
    return { ...refund, status: derived?.status ?? state };
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
      return { pending: await reserveRefund(tx, locked, await currentState(tx, locked), request), payment: locked };
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
        WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2`,
      [options.olderThanSeconds, options.limit ?? 500],
    );
    let settled = 0;
    for (const row of rows) {
      const pending: RefundRecord = { id: row.id, paymentId: row.payment_id, amount: Number(row.amount), currency: row.currency, status: 'pending' };
      try {
        if ((await settle(pending, (await findPayment(deps.db, row.payment_id))!)).status !== 'pending') settled += 1;
        else await deps.db.many('UPDATE refunds SET updated_at = now() WHERE id = $1', [row.id]); // the next run asks the others first
      } catch (error) {
        deps.logger.warn({ err: error, refundId: row.id }, 'could not settle a pending refund');
      }
    }
    return { examined: rows.length, settled };
  }

  return { refund, settle, settlePendingRefunds };
}

export type RefundService = ReturnType<typeof createRefundService>;
