import Stripe from 'stripe';
import {
  jsonWebhookReply,
  PaymentOperationInput,
  PaymentProvider,
  ProviderError,
  WebhookVerificationError,
} from '../types';
import { isUnexpectedIntentState, stripeFailure } from './errors';
import { hasReadableObject, intentMoney, intentState, providerEvent, refundState } from './mapping';
import type { EnabledStripeSettings } from './settings';

/** Stripe's default and our contract: an older signed event is refused as a possible replay. */
const WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * Without this a checkout could wait on the SDK's 80 s default. A timed-out call is indeterminate, and the
 * idempotency key makes trying it again safe.
 */
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * Stripe through its official SDK: one PaymentIntent per payment, confirmed by the mobile Payment Sheet.
 * Only our opaque ids and the amount travel to Stripe; every mutating call carries an idempotency key
 * derived from our own ids, so a retry never pays, captures or refunds twice.
 */
export function createStripeProvider(settings: EnabledStripeSettings): PaymentProvider {
  const stripe = createClient(settings);

  async function call<T>(action: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw stripeFailure(action, error);
    }
  }

  const retrieveIntent = (providerRef: string) =>
    call(`retrieve PaymentIntent ${providerRef}`, () => stripe.paymentIntents.retrieve(providerRef));

  /** Capture and cancel refuse to run twice; finding the intent already in the wanted status counts as success. */
  async function moveIntent(action: string, input: PaymentOperationInput, wanted: Stripe.PaymentIntent['status'], request: () => Promise<unknown>) {
    try {
      await request();
    } catch (error) {
      if (isUnexpectedIntentState(error)) {
        const intent = error.payment_intent ?? (await retrieveIntent(input.providerRef));
        if (intent.status === wanted) return;
      }
      throw stripeFailure(`${action} PaymentIntent ${input.providerRef}`, error);
    }
  }

  function verifiedEvent(rawBody: Buffer, signature: string): Stripe.Event {
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(rawBody, signature, settings.webhookSecret.reveal(), WEBHOOK_TOLERANCE_SECONDS);
    } catch (error) {
      // constructEvent checks signature and timestamp before parsing, so any other failure is an unreadable body.
      const reason = error instanceof Stripe.errors.StripeSignatureVerificationError ? error.message.split('\n')[0] : 'The Stripe event body is not a readable event.';
      throw new WebhookVerificationError(reason);
    }
    // A validly signed body can still be no event at all (a signed `[]`, a test payload): refused, not a crash.
    if (!isEventShaped(event)) throw new WebhookVerificationError('The signed body is not a Stripe event.');
    if (!hasReadableObject(event)) throw new WebhookVerificationError(`The signed ${event.type} event does not carry a readable object.`);
    return event;
  }

  /**
   * Charges stopped listing their refunds in API version 2022-11-15, so charge.refunded no longer says which
   * refund it reports. The newest refund made by the event's time is it, and its metadata holds our refund id:
   * without that, the gateway would record our own refund a second time as one made in the dashboard.
   */
  async function refundReported(event: Stripe.ChargeRefundedEvent): Promise<Stripe.Refund | undefined> {
    const charge = event.data.object;
    if (charge.refunds) return undefined;
    const refunds = await call(`list the refunds of charge ${charge.id}`, () =>
      stripe.refunds.list({ charge: charge.id, created: { lte: event.created }, limit: 1 }),
    );
    return refunds.data[0];
  }

  return {
    name: 'stripe',
    capabilities: { manualCapture: true },

    async createSession(input) {
      const intent = await call('create a PaymentIntent', () =>
        stripe.paymentIntents.create(
          {
            amount: input.money.amount,
            currency: input.money.currency.toLowerCase(),
            automatic_payment_methods: { enabled: true },
            capture_method: input.captureMethod,
            metadata: { payment_id: input.paymentId },
          },
          { idempotencyKey: `kalos:checkout:${input.idempotencyKey}` },
        ),
      );
      if (!intent.client_secret) throw new ProviderError('stripe', 'terminal', `PaymentIntent ${intent.id} came back without a client_secret`);
      return {
        providerRef: intent.id,
        nextAction: { type: 'stripe_payment_sheet', client_secret: intent.client_secret, publishable_key: settings.publishableKey },
      };
    },

    async parseWebhook({ rawBody, headers }) {
      const signature = headers['stripe-signature'];
      if (typeof signature !== 'string' || signature === '') throw new WebhookVerificationError('The Stripe-Signature header is missing.');
      const event = verifiedEvent(rawBody, signature);
      return providerEvent(event, event.type === 'charge.refunded' ? await refundReported(event) : undefined);
    },

    webhookReply: jsonWebhookReply,

    async fetchStatus(input) {
      const intent = await retrieveIntent(input.providerRef);
      const state = intentState(intent);
      if (!state) throw new ProviderError('stripe', 'indeterminate', `PaymentIntent ${intent.id} has a status this version does not know: ${intent.status}`);
      // Keyed by our reading, not Stripe's status: a declined intent stays `requires_payment_method` but is now failed.
      return { state, money: intentMoney(intent), observationId: `${intent.id}:${state}` };
    },

    /**
     * A refund asked for again (reconcile re-sends pending ones) is looked up first: Stripe replays an
     * idempotent answer for 24 h only, so after that a second create would pay the buyer twice.
     */
    async refund(input) {
      const earlier = await call(`list the refunds of PaymentIntent ${input.providerRef}`, () =>
        stripe.refunds.list({ payment_intent: input.providerRef, limit: 100 }),
      );
      const existing = earlier.data.find((candidate) => candidate.metadata?.refund_id === input.refundId);
      if (existing) return { providerRefundId: existing.id, state: refundState(existing.status) };
      const refund = await call(`refund PaymentIntent ${input.providerRef}`, () =>
        stripe.refunds.create(
          {
            payment_intent: input.providerRef,
            amount: input.money.amount,
            metadata: { refund_id: input.refundId, payment_id: input.paymentId },
          },
          { idempotencyKey: `kalos:refund:${input.refundId}` },
        ),
      );
      return { providerRefundId: refund.id, state: refundState(refund.status) };
    },

    capture: (input) =>
      moveIntent('capture', input, 'succeeded', () =>
        stripe.paymentIntents.capture(input.providerRef, {}, { idempotencyKey: `kalos:capture:${input.paymentId}` }),
      ),

    cancel: (input) =>
      moveIntent('cancel', input, 'canceled', () =>
        stripe.paymentIntents.cancel(input.providerRef, {}, { idempotencyKey: `kalos:cancel:${input.paymentId}` }),
      ),
  };
}

function isEventShaped(value: unknown): value is Stripe.Event {
  const event = value as Partial<Stripe.Event> | null;
  return (
    typeof event === 'object' && event !== null && !Array.isArray(event) &&
    typeof event.id === 'string' && event.id !== '' && typeof event.type === 'string' && Number.isSafeInteger(event.created) &&
    typeof event.data === 'object' && event.data !== null && typeof event.data.object === 'object' && event.data.object !== null
  );
}

function createClient(settings: EnabledStripeSettings): Stripe {
  const base = settings.apiBase;
  return new Stripe(settings.secretKey.reveal(), {
    appInfo: { name: 'kalos-pay' },
    timeout: REQUEST_TIMEOUT_MS,
    ...(base && {
      protocol: base.protocol === 'http:' ? 'http' : 'https',
      host: base.hostname,
      port: base.port || (base.protocol === 'http:' ? 80 : 443),
    }),
  });
}
