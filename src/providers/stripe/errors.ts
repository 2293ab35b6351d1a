import Stripe from 'stripe';
import { ProviderError, ProviderFailureKind } from '../types';

/**
 * The one place where SDK failures are sorted into what the caller must do (see ProviderFailureKind).
 * The SDK has already retried network faults, 409s and 5xx with the same idempotency key before we see them.
 */
export function stripeFailure(action: string, error: unknown): ProviderError {
  return new ProviderError('stripe', failureKind(error), `Stripe could not ${action}: ${describe(error)}`, { cause: error });
}

function failureKind(error: unknown): ProviderFailureKind {
  if (error instanceof Stripe.errors.StripeRateLimitError) return 'retryable';
  // The request may have reached Stripe before the connection broke.
  if (error instanceof Stripe.errors.StripeConnectionError) return 'indeterminate';
  if (error instanceof Stripe.errors.StripeError) {
    // 409: another request with the same idempotency key is still running (or a lock timed out); nothing was done yet.
    if (error.statusCode === 409) return 'retryable';
    // Stripe documents the outcome of a 5xx as unknown.
    if (error.statusCode === undefined || error.statusCode >= 500) return 'indeterminate';
    // Card declines, invalid requests, bad keys, permissions, idempotency-key misuse: the same call fails again.
    return 'terminal';
  }
  return 'indeterminate';
}

/** Type, code and Stripe's message: they describe our request, never the buyer. */
function describe(error: unknown): string {
  if (error instanceof Stripe.errors.StripeError) {
    const code = error.code ? `/${error.code}` : '';
    const requestId = error.requestId ? ` (request ${error.requestId})` : '';
    return `${error.rawType ?? error.type}${code}: ${error.message}${requestId}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Stripe refused because of the intent's current status; it may already be where we wanted it (captured or canceled twice). */
export function isUnexpectedIntentState(error: unknown): error is Stripe.errors.StripeInvalidRequestError {
  return error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state';
}
