import type { Database, Sql } from '../db/database';
import { currentState, ownFact, recordFacts } from '../payments/fact-journal';
import type { PaymentFact, PaymentState } from '../payments/lifecycle';
import { findPayment, lockPayment, Payment } from '../payments/payment';
import { RefundRecord, RefundService, reserveRefund } from '../payments/refunds';
import type { ProviderRegistry } from '../providers/registry';
import { invalidStateTransition, notFound } from '../shared/errors';

/**
 * What a person decides about a payment the risk layer held (`held_for_review`). The ops API and CLI call
 * these; they are the whole domain logic. A decision is a fact (`approved`, `rejected`), and so is what
 * the provider did about it: authorisations (manual capture) are captured or voided; money that already
 * arrived (sandbox, Alipay, automatic capture) is released, or refunded in full.
 */
export interface ReviewDeps {
  db: Database;
  providers: ProviderRegistry;
  refunds: RefundService;
  onStatusChange: (payment: Payment) => void;
}

export type ReviewVerdict = 'approve' | 'reject';

interface Held {
  payment: Payment;
  state: PaymentState;
}

/**
 * A held payment a person may still decide about. A rejection whose refund the provider refused may be
 * repeated (nothing went back); any other decision, once taken, stands.
 */
async function lockHeld(tx: Sql, paymentId: string, verdict: ReviewVerdict): Promise<Held> {
  const payment = await lockPayment(tx, paymentId);
  if (!payment) throw notFound('payment');
  const state = await currentState(tx, payment);
  if (state.status !== 'held_for_review') throw invalidStateTransition(`A payment in status ${state.status} is not held for review.`);
  const retryingRefusedRefund = verdict === 'reject' && state.decision === 'rejected' && !state.refunds.some((refund) => refund.status === 'pending');
  if (state.decision && !retryingRefusedRefund) throw invalidStateTransition('A decision about this payment has been taken already.');
  return { payment, state };
}

const decisionFact = (verdict: ReviewVerdict): PaymentFact =>
  verdict === 'approve' ? ownFact('approved', 'review:approved') : ownFact('rejected', 'review:rejected');

async function recordDecision(deps: ReviewDeps, paymentId: string, facts: PaymentFact[]): Promise<Payment> {
  const recorded = await deps.db.transaction((tx) => recordFacts(tx, paymentId, facts));
  if (recorded.statusChanged) deps.onStatusChange(recorded.payment);
  return recorded.payment;
}

/**
 * An authorisation is captured or voided at the provider first, outside any transaction; the provider
 * arbitrates a race (a voided authorisation cannot be captured). What it did is then recorded with the
 * decision, under the row lock, and a provider webhook saying the same later changes nothing.
 */
async function settleAuthorisation(deps: ReviewDeps, held: Payment, verdict: ReviewVerdict): Promise<Payment> {
  const provider = deps.providers.get(held.provider);
  if (!provider || !held.providerRef) throw invalidStateTransition('This payment has no provider session to settle the review through.');
  const money = { amount: held.amount, currency: held.currency };
  const input = { paymentId: held.id, providerRef: held.providerRef, money };
  await (verdict === 'approve' ? provider.capture(input) : provider.cancel(input));
  const outcome =
    verdict === 'approve'
      ? ownFact('paid', 'review:captured', { money, sessionRef: held.providerRef })
      : ownFact('canceled', 'review:voided', { sessionRef: held.providerRef });
  return recordDecision(deps, held.id, [outcome, decisionFact(verdict)]);
}

/**
 * Decides under the payment's row lock, so an approval and a rejection racing each other cannot both win.
 * For money that already arrived, a rejection records the decision and reserves the refund of whatever is
 * left in the same transaction (and pays it back right after); an approval releases the money as it
 * stands, refunds made meanwhile (say, in the provider's dashboard) included.
 */
async function settleHeld(deps: ReviewDeps, paymentId: string, verdict: ReviewVerdict): Promise<Payment> {
  const decided = await deps.db.transaction(async (tx): Promise<{ payment: Payment; refund?: RefundRecord; decided?: Payment }> => {
    const { payment, state } = await lockHeld(tx, paymentId, verdict);
    if (state.authorisedAmount > 0) return { payment };
    if (verdict === 'approve') return { payment, decided: (await recordFacts(tx, payment.id, [decisionFact(verdict)])).payment };
    if (state.openDispute) throw invalidStateTransition('A dispute is open on this payment: a refund now would pay the money back twice.');
    const refund = await reserveRefund(tx, payment, state, { reason: 'risk_review_rejected' }, { rejectingReview: true });
    await recordFacts(tx, payment.id, [decisionFact(verdict)]);
    return { payment, refund };
  });
  if (decided.refund) {
    // The refund's result is a fact too: the payment becomes `refunded` once the money is back.
    await deps.refunds.settle(decided.refund, decided.payment);
    return (await findPayment(deps.db, paymentId))!;
  }
  if (decided.decided) {
    deps.onStatusChange(decided.decided);
    return decided.decided;
  }
  return settleAuthorisation(deps, decided.payment, verdict);
}

/** Releases a held payment: captures an authorisation, or lets the paid order be fulfilled. → `succeeded`. */
export const approveHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'approve');

/** Refuses a held payment: voids an authorisation (→ `canceled`) or refunds money that arrived (→ `refunded`). */
export const rejectHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'reject');
