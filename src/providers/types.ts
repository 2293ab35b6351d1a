import type { IncomingHttpHeaders } from 'node:http';
import type { Money } from '../shared/money';

/**
 * The one interface every payment provider implements. Each verb takes one input object and answers in
 * provider-neutral terms; the payment state machine alone decides what a result means for a payment.
 * A provider lives in `src/providers/<name>/` (behaviour in `provider.ts`, wire mapping in its own file)
 * and is listed once in `src/providers/registry.ts`.
 */
export type ProviderName = 'sandbox' | 'stripe' | 'alipay';

export type NextAction =
  | { type: 'sandbox_confirm'; complete_url: string }
  | { type: 'stripe_payment_sheet'; client_secret: string; publishable_key: string }
  | { type: 'alipay_app'; order_string: string }
  | { type: 'verify'; verify_url: string };

export interface CreateSessionInput {
  paymentId: string;
  money: Money;
  item: { sku: string; name: string; quantity: number };
  /** Passed on as the provider's own idempotency key, so a retried checkout never opens a second session. */
  idempotencyKey: string;
  /** `manual` when the risk layer wants the funds authorised but held until a person approves them. */
  captureMethod: 'automatic' | 'manual';
}

export interface ProviderSession {
  providerRef: string;
  nextAction: NextAction;
}

/** What a provider says about a payment, mapped onto our vocabulary by the provider's own exhaustive switch. */
export type ProviderPaymentState =
  | 'pending' // nothing has happened yet, or the buyer is still paying
  | 'processing'
  | 'authorized' // funds held, waiting for capture (manual capture)
  | 'succeeded'
  | 'failed'
  | 'canceled';

/**
 * A verified provider notification, normalised: one observation, which the webhook service records as one
 * fact. `occurredAt` is the provider's own time for it, when it gives one. Providers never touch the database.
 */
export type ProviderEvent =
  | { kind: 'payment'; eventId: string; ref: PaymentRef; state: ProviderPaymentState; money?: Money; occurredAt?: Date }
  | { kind: 'refund'; eventId: string; ref: PaymentRef; refund: RefundNotice; occurredAt?: Date }
  | { kind: 'dispute'; eventId: string; ref: PaymentRef; dispute: 'opened' | 'won' | 'lost'; disputeId?: string; occurredAt?: Date }
  /** Verified, but of a type we do not act on: acknowledged so the provider stops retrying. */
  | { kind: 'ignored'; eventId: string; type: string };

/** How a provider event points at our payment: our id when the provider echoes it back, else the provider's reference. */
export interface PaymentRef {
  paymentId?: string;
  providerRef?: string;
}

export interface RefundNotice {
  /** Our refund id when the provider echoes it back (Stripe metadata, Alipay out_request_no). */
  refundId?: string;
  providerRefundId?: string;
  /** This refund's own amount, when the provider says it (Alipay reports only the running total). */
  money?: Money;
  state: 'pending' | 'succeeded' | 'failed';
  /** Total refunded on the payment so far, when the provider reports it (Stripe charge.amount_refunded). */
  totalRefunded?: number;
}

export interface WebhookRequest {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
}

/** How the provider wants its webhook answered. Stripe and the sandbox take JSON; Alipay wants plain `success`. */
export interface WebhookReply {
  status: number;
  contentType: 'application/json' | 'text/plain';
  body: string;
}

export interface ProviderStatusSnapshot {
  state: ProviderPaymentState;
  money?: Money;
  /** Stable id for this observation, so applying the same snapshot twice has effect once. */
  observationId: string;
}

export interface RefundInput {
  paymentId: string;
  providerRef: string;
  refundId: string;
  money: Money;
  /** The total the payment has after this refund: Alipay's refund query needs the whole-payment view. */
  paymentMoney: Money;
}

export interface RefundResult {
  providerRefundId?: string;
  state: 'pending' | 'succeeded' | 'failed';
}

export interface PaymentOperationInput {
  paymentId: string;
  providerRef: string;
  money: Money;
}

/**
 * Provider failures, sorted the way callers must react to them:
 * - retryable: nothing happened; the same call may be tried again (network refused, 5xx before processing).
 * - indeterminate: it may or may not have happened; wait for the webhook or reconcile, never assume.
 * - terminal: the provider refused for good (bad request, card declined, already refunded beyond the total).
 */
export type ProviderFailureKind = 'retryable' | 'indeterminate' | 'terminal';

export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderFailureKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

/** A signature, timestamp or format check failed: answered 400 and nothing changes. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export interface ProviderCapabilities {
  /** Can authorise now and capture later (used to hold payments the risk layer sends to review). */
  manualCapture: boolean;
  /** Currencies this provider accepts; undefined means any catalog currency. */
  currencies?: readonly string[];
  /** False when the provider keeps no remote state to ask (the sandbox): reconcile skips it. */
  statusQueries?: boolean;
}

export interface PaymentProvider {
  readonly name: ProviderName;
  readonly capabilities: ProviderCapabilities;
  createSession(input: CreateSessionInput): Promise<ProviderSession>;
  /** Verifies the raw webhook (throws WebhookVerificationError) and normalises it. */
  parseWebhook(request: WebhookRequest): Promise<ProviderEvent>;
  /** How to answer the provider: `processed` once durably stored, `rejected` for a bad signature, `failed` on our fault. */
  webhookReply(outcome: 'processed' | 'rejected' | 'failed'): WebhookReply;
  fetchStatus(input: PaymentOperationInput): Promise<ProviderStatusSnapshot>;
  refund(input: RefundInput): Promise<RefundResult>;
  capture(input: PaymentOperationInput): Promise<void>;
  cancel(input: PaymentOperationInput): Promise<void>;
}

/** Default JSON replies for providers that take JSON acknowledgements. */
export function jsonWebhookReply(outcome: 'processed' | 'rejected' | 'failed'): WebhookReply {
  if (outcome === 'processed') return { status: 200, contentType: 'application/json', body: '{"received":true}' };
  if (outcome === 'rejected') {
    return {
      status: 400,
      contentType: 'application/json',
      body: JSON.stringify({ error: { type: 'invalid_request_error', code: 'signature_invalid', message: 'The webhook signature could not be verified.' } }),
    };
  }
  return { status: 500, contentType: 'application/json', body: JSON.stringify({ error: { type: 'api_error', code: 'internal_error', message: 'The event could not be processed; please retry.' } }) };
}
