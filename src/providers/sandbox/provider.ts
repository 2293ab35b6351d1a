import { z } from 'zod';
import { newId } from '../../shared/ids';
import {
  jsonWebhookReply,
  PaymentProvider,
  ProviderError,
  ProviderEvent,
  WebhookRequest,
  WebhookVerificationError,
} from '../types';
import { SANDBOX_SIGNATURE_HEADER, signSandboxPayload, verifySandboxSignature } from './signature';

/**
 * A provider that needs no account: the payer "completes" a payment with one API call, and the sandbox
 * answers the way a real provider would, with a signed webhook through the normal webhook path. Refused in
 * production unless SANDBOX_ENABLED=true.
 */
export const SANDBOX_EVENT_TYPES = [
  'payment.succeeded',
  'payment.failed',
  'payment.processing',
  'refund.succeeded',
  'dispute.opened',
  'dispute.won',
  'dispute.lost',
] as const;

export const sandboxEventSchema = z.object({
  id: z.string().regex(/^evt_\w{1,64}$/),
  type: z.enum(SANDBOX_EVENT_TYPES),
  /** Unix seconds when it happened at the "provider"; orders a payer's attempts, like Stripe's `created`. */
  created: z.number().int().positive().optional(),
  data: z.object({
    payment_id: z.string().min(1).max(64),
    amount: z.number().int().nonnegative(),
    currency: z.string().regex(/^[A-Z]{3}$/),
    /** refund.succeeded: the refund, and the running total refunded on the payment, as Stripe's charge reports it. */
    refund: z.object({ id: z.string().regex(/^sbx_re_\w{1,64}$/), amount: z.number().int().positive(), refund_id: z.string().max(64).optional() }).optional(),
    refunded_total: z.number().int().nonnegative().optional(),
    /** dispute.*: which dispute. */
    dispute_id: z.string().regex(/^sbx_dp_\w{1,64}$/).optional(),
  }),
});

export type SandboxEvent = z.infer<typeof sandboxEventSchema>;

export interface SandboxOptions {
  webhookSecret: string;
  publicBaseUrl: string;
}

function parseEvent(rawBody: Buffer): SandboxEvent {
  let json: unknown;
  try {
    json = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw new WebhookVerificationError('Sandbox event is not JSON');
  }
  const parsed = sandboxEventSchema.safeParse(json);
  if (!parsed.success) throw new WebhookVerificationError('Sandbox event has an unexpected shape');
  return parsed.data;
}

/** The sandbox's events in our vocabulary: the same kinds a real provider's webhooks become. */
function providerEventOf(event: SandboxEvent): ProviderEvent {
  const { data } = event;
  const base = { eventId: event.id, ref: { paymentId: data.payment_id }, ...(event.created ? { occurredAt: new Date(event.created * 1000) } : {}) };
  const money = { amount: data.amount, currency: data.currency };
  switch (event.type) {
    case 'payment.succeeded':
      return { ...base, kind: 'payment', state: 'succeeded', money };
    case 'payment.failed':
      return { ...base, kind: 'payment', state: 'failed', money };
    case 'payment.processing':
      return { ...base, kind: 'payment', state: 'processing', money };
    case 'refund.succeeded': {
      if (!data.refund) throw new WebhookVerificationError('A sandbox refund event names its refund');
      const refund = { refundId: data.refund.refund_id, providerRefundId: data.refund.id, money: { amount: data.refund.amount, currency: data.currency } };
      return { ...base, kind: 'refund', refund: { ...refund, state: 'succeeded', totalRefunded: data.refunded_total } };
    }
    case 'dispute.opened':
    case 'dispute.won':
    case 'dispute.lost':
      return { ...base, kind: 'dispute', dispute: event.type.slice('dispute.'.length) as 'opened' | 'won' | 'lost', disputeId: data.dispute_id };
  }
}

export function createSandboxProvider(options: SandboxOptions): PaymentProvider {
  const notSupported = (what: string) =>
    new ProviderError('sandbox', 'terminal', `The sandbox keeps no remote state, so it cannot ${what}`);
  return {
    name: 'sandbox',
    capabilities: { manualCapture: false, statusQueries: false },

    async createSession({ paymentId }) {
      return {
        providerRef: `sbx_${paymentId}`,
        nextAction: { type: 'sandbox_confirm', complete_url: `${options.publicBaseUrl}/v1/sandbox/payments/${paymentId}/complete` },
      };
    },

    async parseWebhook({ rawBody, headers }: WebhookRequest): Promise<ProviderEvent> {
      const header = headers[SANDBOX_SIGNATURE_HEADER];
      verifySandboxSignature(Array.isArray(header) ? header[0] : header, rawBody, options.webhookSecret);
      return providerEventOf(parseEvent(rawBody));
    },

    webhookReply: jsonWebhookReply,

    async fetchStatus() {
      throw notSupported('report a payment status');
    },

    // Sandbox money is imaginary: a refund, capture or cancel succeeds at once.
    async refund() {
      return { providerRefundId: newId('sbx_re'), state: 'succeeded' };
    },
    async capture() {},
    async cancel() {},
  };
}

/** The sandbox's "provider side": builds and signs the webhook a real provider would send. */
export function buildSandboxWebhook(secret: string, event: SandboxEvent): { body: Buffer; headers: Record<string, string> } {
  const body = Buffer.from(JSON.stringify(event), 'utf8');
  return { body, headers: { 'content-type': 'application/json', [SANDBOX_SIGNATURE_HEADER]: signSandboxPayload(secret, body) } };
}
