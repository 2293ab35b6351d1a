import type { Database } from '../db/database';
import { findPayment, lockPayment, Payment } from '../payments/payment';
import type { RefundService } from '../payments/refunds';
import { transition } from '../payments/state-machine';
import type { ProviderRegistry } from '../providers/registry';
import type { PaymentProvider } from '../providers/types';
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

function providerOf(deps: ReviewDeps, payment: Payment): { provider: PaymentProvider; providerRef: string } {
  const provider = deps.providers.get(payment.provider);
  if (!provider || !payment.providerRef) throw new Error(`Payment ${payment.id} has no usable provider to settle the review through`);
  return { provider, providerRef: payment.providerRef };
}

/**
 * Under the payment's row lock: checks it is held, asks the provider (capture / cancel), then moves it.
 * The provider verbs are idempotent (keyed by our payment id), so a retry after a crash is safe.
 */
async function settleHeld(deps: ReviewDeps, paymentId: string, verdict: ReviewVerdict): Promise<Payment> {
  const payment = await deps.db.transaction(async (tx) => {
    const held = await lockPayment(tx, paymentId);
    if (!held) throw notFound('payment');
    if (held.status !== 'held_for_review') throw invalidStateTransition(`A payment in status ${held.status} is not held for review.`);
    if (verdict === 'reject' && held.captureMethod === 'automatic') return held; // refunded below, outside this lock
    if (held.captureMethod === 'manual') {
      const { provider, providerRef } = providerOf(deps, held);
      const input = { paymentId: held.id, providerRef, money: { amount: held.amount, currency: held.currency } };
      await (verdict === 'approve' ? provider.capture(input) : provider.cancel(input));
    }
    const moved = await transition(tx, held.id, verdict === 'approve' ? 'succeeded' : 'canceled', `review:${verdict}d`, { reviewReason: null });
    return moved.payment;
  });
  if (payment.status !== 'held_for_review') {
    deps.onStatusChange(payment);
    return payment;
  }
  // The refund service reserves, calls the provider and moves the payment to `refunded` on success.
  await deps.refunds.refund({ paymentId, reason: 'risk_review_rejected' });
  return (await findPayment(deps.db, paymentId))!;
}

/** Releases a held payment: captures an authorisation, or lets the paid order be fulfilled. → `succeeded`. */
export const approveHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'approve');

/** Refuses a held payment: voids an authorisation (→ `canceled`) or refunds money that arrived (→ `refunded`). */
export const rejectHeldPayment = (deps: ReviewDeps, paymentId: string) => settleHeld(deps, paymentId, 'reject');
