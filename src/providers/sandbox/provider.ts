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
export const sandboxEventSchema = z.object({
  id: z.string().regex(/^evt_\w{1,64}$/),
  type: z.enum(['payment.succeeded', 'payment.failed']),
  data: z.object({
    payment_id: z.string().min(1).max(64),
    amount: z.number().int().nonnegative(),
    currency: z.string().regex(/^[A-Z]{3}$/),
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
      const event = parseEvent(rawBody);
      return {
        kind: 'payment',
        eventId: event.id,
        ref: { paymentId: event.data.payment_id },
        state: event.type === 'payment.succeeded' ? 'succeeded' : 'failed',
        money: { amount: event.data.amount, currency: event.data.currency },
      };
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
