/**
 * The public status vocabulary of API.md. Which status a payment is in is decided in one place only, by
 * `derivePaymentState` in `./lifecycle.ts`, from the facts recorded about the payment.
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

/** Statuses in which money was taken and may be refunded (a held payment only through its review's rejection). */
export const REFUNDABLE_STATUSES: readonly PaymentStatus[] = ['succeeded', 'partially_refunded'];
