/**
 * The payment lifecycle of API.md. This table is the only place that says which moves are legal; a move
 * missing here is refused (by the API with 409, recorded and ignored for provider events). Money decides
 * the direction: once paid, a payment never returns to an unpaid status (a late `processing` or `failed`
 * after `succeeded` changes nothing). The few moves that look backwards follow money that did arrive: a
 * declined attempt paid on retry, a payment made after a cancel, a dispute won.
 */
export const PAYMENT_STATUSES = [
  'requires_verification',
  'requires_payment',
  'processing',
  'held_for_review',
  'succeeded',
  'failed',
  'canceled',
  'blocked',
  'partially_refunded',
  'refunded',
  'disputed',
] as const;

export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  requires_verification: ['requires_payment', 'blocked', 'canceled'],
  requires_payment: ['processing', 'held_for_review', 'succeeded', 'failed', 'canceled'],
  processing: ['held_for_review', 'succeeded', 'failed', 'canceled'],
  // Funds authorised or paid but withheld until a person decides (risk review, amount mismatch).
  held_for_review: ['succeeded', 'canceled', 'refunded'],
  succeeded: ['partially_refunded', 'refunded', 'disputed'],
  // A declined attempt can be retried in the provider's sheet; money that does arrive is never lost.
  failed: ['processing', 'held_for_review', 'succeeded', 'canceled'],
  // Money that arrives after a cancel is not ignored: a person must refund or fulfil it.
  canceled: ['held_for_review'],
  blocked: [],
  partially_refunded: ['refunded', 'disputed'],
  refunded: [],
  // A won dispute returns to what the refunds make it; a lost one stays disputed (the funds went back).
  disputed: ['succeeded', 'partially_refunded', 'refunded'],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses in which money was taken and may be refunded (a held payment only through its review's rejection). */
export const REFUNDABLE_STATUSES: readonly PaymentStatus[] = ['succeeded', 'partially_refunded'];

/** Statuses that wait on the provider and may need a reconcile when its webhook never comes. */
export const AWAITING_PROVIDER_STATUSES: readonly PaymentStatus[] = ['requires_payment', 'processing'];
