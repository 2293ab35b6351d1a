import type { Database, Sql } from '../db/database';
import { findPayment, lockPayment, Payment } from '../payments/payment';
import { refundTotal } from '../payments/refund-totals';
import { RefundRecord, RefundService, reserveRefund } from '../payments/refunds';
import { transition } from '../payments/state-machine';
import type { ProviderRegistry } from '../providers/registry';
import { invalidStateTransition, notFound } from '../shared/errors';

/**
 * What a person decides about a payment the risk layer held (`held_for_review`). The ops API will call
 * these; they are the whole domain logic. Authorised-only payments (manual capture) are captured or
 * voided; payments whose money already arrived (sandbox, Alipay: fulfilment withheld) are released or
 * refunded in full.
 */
export interface ReviewDeps {
  db: Database;
  providers: ProviderRegistry;
  refunds: RefundService;
  onStatusChange: (payment: Payment) => void;
}

export type ReviewVerdict = 'approve' | 'reject';

async function lockHeld(tx: Sql, paymentId: string): Promise<Payment> {
  const held = await lockPayment(tx, paymentId);
  if (!held) throw notFound('payment');
  if (held.status !== 'held_for_review') throw invalidStateTransition(`A payment in status ${held.status} is not held for review.`);
  // A rejection's refund is under way: the decision has been taken.
  if ((await refundTotal(tx, held.id, ['pending', 'succeeded'])) > 0) throw invalidStateTransition('This payment is already being refunded.');
  return held;
}

const verdictStatus = { approve: 'succeeded', reject: 'canceled' } as const;

const moveHeld = (tx: Sql, payment: Payment, verdict: ReviewVerdict) =>
  transition(tx, payment.id, verdictStatus[verdict], `review:${verdict}d`, { reviewReason: null });

/**
 * An authorisation is captured or voided at the provider first, outside any transaction; the provider
 * arbitrates a race (a voided authorisation cannot be captured), and the move is made afterwards under the
 * row lock, only if the payment is still held.
 */
async function settleAuthorisation(deps: ReviewDeps, held: Payment, verdict: ReviewVerdict): Promise<Payment> {
  const provider = deps.providers.get(held.provider);
  if (!provider || !held.providerRef) throw invalidStateTransition('This payment has no provider session to settle the review through.');
  const input = { paymentId: held.id, providerRef: held.providerRef, money: { amount: held.amount, currency: held.currency } };
  await (verdict === 'approve' ? provider.capture(input) : provider.cancel(input));
  return deps.db.transaction(async (tx) => {
    // The provider's own webhook for this capture or void may have moved the payment already.
    const current = await lockPayment(tx, held.id);
    if (current?.status === verdictStatus[verdict]) return current;
    return (await moveHeld(tx, await lockHeld(tx, held.id), verdict)).payment;
  });
}

/**
 * Decides under the payment's row lock, so an approval and a rejection racing each other cannot both win.
 * For money that already arrived, a rejection reserves the full refund before the lock is released (and
 * pays it back right after), and an approval checks no refund is under way.
 */
async function settleHeld(deps: ReviewDeps, paymentId: string, verdict: ReviewVerdict): Promise<Payment> {
  const decided = await deps.db.transaction(async (tx): Promise<{ payment: Payment; refund?: RefundRecord }> => {
    const held = await lockHeld(tx, paymentId);
    if (held.captureMethod === 'manual') return { payment: held };
    if (verdict === 'reject') {
      if (held.reviewReason === 'dispute_opened') throw invalidStateTransition('A dispute is open on this payment: a refund now would pay the money back twice.');
      return { payment: held, refund: await reserveRefund(tx, held, { reason: 'risk_review_rejected' }, { rejectingReview: true }) };
    }
    return { payment: (await moveHeld(tx, held, verdict)).payment };
  });
  if (decided.refund) {
    // The refund service calls the provider and moves the payment to `refunded` on success.
    await deps.refunds.settle(decided.refund, decided.payment);
    return (await findPayment(deps.db, paymentId))!;
  }
  const settled = decided.payment.captureMethod === 'manual' ? await settleAuthorisation(deps, decided.payment, verdict) : decided.payment;
  deps.onStatusChange(settled);
  return settled;
}

/** Releases a held payment: captures an authorisation, or lets the paid order be fulfilled. → `succeeded`. */
export const approveHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'approve');

/** Refuses a held payment: voids an authorisation (→ `canceled`) or refunds money that arrived (→ `refunded`). */
export const rejectHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'reject');
