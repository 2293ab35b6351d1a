import type { LifecycleContext, PaymentFact } from '../../src/payments/lifecycle';
import type { PaymentStatus } from '../../src/payments/status';

/** Shared by the lifecycle's table and property tests: a payment of 1000 CNY on session `sess_ours`. */
export const AMOUNT = 1000;
export const money = (amount = AMOUNT, currency = 'CNY') => ({ amount, currency });
export const context = (overrides: Partial<LifecycleContext> = {}): LifecycleContext => ({
  amount: AMOUNT,
  currency: 'CNY',
  riskDecision: 'allow',
  captureMethod: 'automatic',
  providerRef: 'sess_ours',
  ...overrides,
});

const T1 = new Date('2026-12-01T10:00:00Z');
const T2 = new Date('2026-12-01T10:05:00Z');

export const fact = (kind: PaymentFact['kind'], key: string, details: Partial<PaymentFact> = {}): PaymentFact => ({
  kind,
  key,
  occurredAt: T1,
  ...details,
});

const paid = fact('paid', 'start:paid', { money: money(), sessionRef: 'sess_ours' });

/** A canonical way to reach each status: the payment's context and the facts that make it so. */
export const STARTS: Record<PaymentStatus, { context: LifecycleContext; facts: PaymentFact[] }> = {
  requires_verification: { context: context({ riskDecision: 'challenge' }), facts: [] },
  requires_payment: { context: context(), facts: [] },
  processing: { context: context(), facts: [fact('processing', 'start:processing')] },
  held_for_review: { context: context({ riskDecision: 'review' }), facts: [paid] },
  succeeded: { context: context(), facts: [paid] },
  failed: { context: context(), facts: [fact('failed', 'start:failed')] },
  canceled: { context: context(), facts: [fact('expired', 'start:expired')] },
  blocked: { context: context({ riskDecision: 'block' }), facts: [] },
  partially_refunded: {
    context: context(),
    facts: [paid, fact('refund_requested', 'start:refund_a', { refundId: 're_a', money: money(100) }), fact('refund_succeeded', 'start:refund_a_ok', { refundId: 're_a', money: money(100) })],
  },
  refunded: {
    context: context(),
    facts: [paid, fact('refund_succeeded', 'start:refund_all', { providerRefundId: 're_dash', money: money(), reportedRefundTotal: AMOUNT })],
  },
  disputed: { context: context(), facts: [paid, fact('dispute_opened', 'start:dispute', { disputeId: 'dp_1' })] },
};

/** One fact of each kind (and the variants that matter), as a provider or a person would add it next. */
export const NEXT: Record<string, PaymentFact> = {
  pending: fact('pending', 'next:pending', { occurredAt: T2 }),
  processing: fact('processing', 'next:processing', { occurredAt: T2 }),
  authorized: fact('authorized', 'next:authorized', { money: money(), sessionRef: 'sess_ours', occurredAt: T2 }),
  paid: fact('paid', 'next:paid', { money: money(), sessionRef: 'sess_ours', occurredAt: T2 }),
  paid_wrong_amount: fact('paid', 'next:paid_wrong', { money: money(999), sessionRef: 'sess_ours', occurredAt: T2 }),
  paid_foreign_session: fact('paid', 'next:paid_foreign', { money: money(), sessionRef: 'sess_other', occurredAt: T2 }),
  failed: fact('failed', 'next:failed', { occurredAt: T2 }),
  canceled: fact('canceled', 'next:canceled', { occurredAt: T2 }),
  expired: fact('expired', 'next:expired', { occurredAt: T2 }),
  verified: fact('verified', 'next:verified', { occurredAt: T2 }),
  verification_failed: fact('verification_failed', 'next:verification_failed', { occurredAt: T2 }),
  approved: fact('approved', 'next:approved', { occurredAt: T2 }),
  rejected: fact('rejected', 'next:rejected', { occurredAt: T2 }),
  refund_requested: fact('refund_requested', 'next:refund_b', { refundId: 're_b', money: money(300), occurredAt: T2 }),
  refund_pending: fact('refund_pending', 'next:refund_b_pending', { providerRefundId: 're_prov_b', money: money(300), occurredAt: T2 }),
  refund_succeeded: fact('refund_succeeded', 'next:refund_b_ok', { providerRefundId: 're_prov_b', money: money(300), occurredAt: T2 }),
  refund_succeeded_in_full: fact('refund_succeeded', 'next:refund_total', { reportedRefundTotal: AMOUNT, occurredAt: T2 }),
  refund_failed: fact('refund_failed', 'next:refund_b_failed', { providerRefundId: 're_prov_b', money: money(300), occurredAt: T2 }),
  refund_refused: fact('refund_refused', 'next:refund_b_refused', { refundId: 're_b', occurredAt: T2 }),
  dispute_opened: fact('dispute_opened', 'next:dispute_opened', { disputeId: 'dp_2', occurredAt: T2 }),
  dispute_won: fact('dispute_won', 'next:dispute_won', { disputeId: 'dp_1', occurredAt: T2 }),
  dispute_lost: fact('dispute_lost', 'next:dispute_lost', { disputeId: 'dp_1', occurredAt: T2 }),
};
