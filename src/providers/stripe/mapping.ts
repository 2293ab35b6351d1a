import type Stripe from 'stripe';
import { z } from 'zod';
import type { Money } from '../../shared/money';
import type { PaymentRef, ProviderEvent, ProviderPaymentState, RefundNotice, RefundResult } from '../types';

/**
 * Stripe's wire objects → our provider vocabulary. Behaviour (which SDK call, which idempotency key) lives in
 * provider.ts; this file only reads what Stripe sent.
 */

/** Our state for a PaymentIntent, or undefined for a status this SDK version does not know (never guess). */
export function intentState(intent: Stripe.PaymentIntent): ProviderPaymentState | undefined {
  switch (intent.status) {
    case 'requires_payment_method':
      // Stripe reopens an intent after a declined attempt; the last error tells a decline from a fresh intent.
      return intent.last_payment_error ? 'failed' : 'pending';
    case 'requires_confirmation':
    case 'requires_action':
      return 'pending';
    case 'processing':
      return 'processing';
    case 'requires_capture':
      return 'authorized';
    case 'succeeded':
      return 'succeeded';
    case 'canceled':
      return 'canceled';
    default:
      return undefined;
  }
}

/** What the intent is for: the captured amount once there is one, else the amount asked for. Currency upper-case, like ours. */
export function intentMoney(intent: Stripe.PaymentIntent): Money {
  return { amount: intent.amount_received || intent.amount, currency: intent.currency.toUpperCase() };
}

export function refundState(status: Stripe.Refund['status']): RefundResult['state'] {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
    case 'canceled':
      return 'failed';
    default:
      // pending, requires_action, or a status added later: a refund.updated event settles it.
      return 'pending';
  }
}

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_]{1,255}$`));
const expandable = (prefix: string) => z.union([id(prefix), z.looseObject({ id: id(prefix) })]);
const currency = z.string().regex(/^[a-zA-Z]{3}$/);
const metadata = z.record(z.string(), z.string()).nullish();
const amount = z.number().int().nonnegative();

/** The fields of each object we read, as Stripe promises them: a signed body that lacks them is no event of ours. */
const OBJECT_SCHEMAS: Partial<Record<Stripe.Event['type'], z.ZodType>> = {};
const intentSchema = z.looseObject({ id: id('pi'), amount, amount_received: amount.nullish(), currency, status: z.string(), metadata });
for (const type of ['payment_intent.succeeded', 'payment_intent.processing', 'payment_intent.payment_failed', 'payment_intent.canceled', 'payment_intent.amount_capturable_updated'] as const) {
  OBJECT_SCHEMAS[type] = intentSchema;
}
OBJECT_SCHEMAS['charge.refunded'] = z.looseObject({ id: id('ch'), amount_refunded: amount, currency, payment_intent: expandable('pi'), metadata });
OBJECT_SCHEMAS['refund.updated'] = z.looseObject({ id: id('re'), amount, currency, status: z.string().nullish(), payment_intent: expandable('pi'), metadata });
const disputeSchema = z.looseObject({ id: id('(dp|du)'), status: z.string(), payment_intent: expandable('pi') });
OBJECT_SCHEMAS['charge.dispute.created'] = disputeSchema;
OBJECT_SCHEMAS['charge.dispute.closed'] = disputeSchema;

/** True when the event's object carries what its type promises (types we ignore need nothing). */
export function hasReadableObject(event: Stripe.Event): boolean {
  const schema = OBJECT_SCHEMAS[event.type];
  return !schema || schema.safeParse(event.data.object).success;
}

/**
 * Every event we act on, and the normalised event it becomes; anything else is acknowledged and ignored.
 * `reportedRefund` is the refund a charge.refunded event is about, when the provider had to look it up.
 */
export function providerEvent(event: Stripe.Event, reportedRefund?: Stripe.Refund): ProviderEvent {
  const normalised = normalisedEvent(event, reportedRefund);
  return normalised.kind === 'ignored' ? normalised : { ...normalised, occurredAt: createdAt(event) };
}

function normalisedEvent(event: Stripe.Event, reportedRefund?: Stripe.Refund): ProviderEvent {
  switch (event.type) {
    case 'payment_intent.succeeded':
      return paymentEvent(event.id, event.data.object, 'succeeded');
    case 'payment_intent.processing':
      return paymentEvent(event.id, event.data.object, 'processing');
    case 'payment_intent.payment_failed':
      return paymentEvent(event.id, event.data.object, 'failed');
    case 'payment_intent.canceled':
      return paymentEvent(event.id, event.data.object, 'canceled');
    case 'payment_intent.amount_capturable_updated':
      return paymentEvent(event.id, event.data.object, 'authorized');
    case 'charge.refunded':
      return refundEvent(event.id, event.data.object, event.data.previous_attributes, reportedRefund);
    case 'refund.updated':
      return refundUpdatedEvent(event.id, event.data.object);
    case 'charge.dispute.created':
      return disputeEvent(event.id, event.data.object, 'opened');
    case 'charge.dispute.closed':
      return disputeEvent(event.id, event.data.object, disputeOutcome(event.data.object.status));
    default:
      return { kind: 'ignored', eventId: event.id, type: event.type };
  }
}

/** Stripe's `created` (seconds) is when it happened there, however late the event reaches us. */
const createdAt = (event: Stripe.Event) => new Date(event.created * 1000);

function paymentEvent(eventId: string, intent: Stripe.PaymentIntent, state: ProviderPaymentState): ProviderEvent {
  return { kind: 'payment', eventId, ref: { paymentId: intent.metadata?.payment_id, providerRef: intent.id }, state, money: intentMoney(intent) };
}

/**
 * The refund is the charge's newest listed refund, or the one the provider looked up (charges stopped
 * listing refunds in API version 2022-11-15); it carries our refund id. Without either, the amount is the
 * growth of `amount_refunded`.
 */
function refundEvent(eventId: string, charge: Stripe.Charge, previous: Partial<Stripe.Charge> | undefined, reportedRefund: Stripe.Refund | undefined): ProviderEvent {
  const latest = charge.refunds?.data[0] ?? reportedRefund;
  const refundedBefore = previous?.amount_refunded;
  const amount = latest?.amount ?? (refundedBefore === undefined ? charge.amount_refunded : charge.amount_refunded - refundedBefore);
  const refund: RefundNotice = {
    refundId: latest?.metadata?.refund_id,
    providerRefundId: latest?.id,
    money: { amount, currency: charge.currency.toUpperCase() },
    state: latest ? refundState(latest.status) : 'succeeded',
    totalRefunded: charge.amount_refunded,
  };
  const ref: PaymentRef = {
    paymentId: charge.metadata?.payment_id ?? latest?.metadata?.payment_id,
    providerRef: objectId(charge.payment_intent),
  };
  return { kind: 'refund', eventId, ref, refund };
}

/** A refund that was pending when it was made (slow methods, bank checks) later succeeds or fails. */
function refundUpdatedEvent(eventId: string, refund: Stripe.Refund): ProviderEvent {
  const notice: RefundNotice = {
    refundId: refund.metadata?.refund_id,
    providerRefundId: refund.id,
    money: { amount: refund.amount, currency: refund.currency.toUpperCase() },
    state: refundState(refund.status),
  };
  return { kind: 'refund', eventId, ref: { paymentId: refund.metadata?.payment_id, providerRef: objectId(refund.payment_intent) }, refund: notice };
}

function disputeEvent(eventId: string, dispute: Stripe.Dispute, outcome: 'opened' | 'won' | 'lost'): ProviderEvent {
  const intent = dispute.payment_intent;
  const paymentId = typeof intent === 'object' && intent !== null ? intent.metadata?.payment_id : undefined;
  return { kind: 'dispute', eventId, ref: { paymentId, providerRef: objectId(intent) }, dispute: outcome, disputeId: dispute.id };
}

/**
 * A closed dispute is lost unless the money stayed with us: won, an inquiry closed without a chargeback
 * (`warning_closed`), or a dispute prevented before it became one.
 */
function disputeOutcome(status: Stripe.Dispute['status']): 'won' | 'lost' {
  return status === 'won' || status === 'warning_closed' || status === 'prevented' ? 'won' : 'lost';
}

/** Stripe fields that hold either an id or the expanded object. */
function objectId(value: string | { id: string } | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.id;
}
