import { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { Database } from '../../db/database';
import { appUser } from '../../http/auth';
import { bearerAuth, commonErrors, errorResponse, openapi } from '../../http/openapi-registry';
import { parseInput } from '../../http/validation';
import { findPayment, findUserPayment } from '../../payments/payment';
import { paymentIdParamsSchema, paymentSchema, sandboxCompleteSchema } from '../../payments/schemas';
import { paymentView } from '../../payments/views';
import type { PersonalDataVault } from '../../privacy/vault';
import { ApiError, invalidStateTransition, notFound } from '../../shared/errors';
import { newId } from '../../shared/ids';
import type { Payment } from '../../payments/payment';
import { buildSandboxWebhook, SANDBOX_EVENT_TYPES, SandboxEvent } from './provider';
import { exactRouter } from '../../http/router';

export const sandboxTriggerSchema = z
  .object({
    type: z.enum(SANDBOX_EVENT_TYPES),
    /** refund.succeeded: the refund's amount in minor units; the whole payment when omitted. */
    amount: z.number().int().positive().optional(),
  })
  .strict()
  .openapi('SandboxTrigger');

const sandboxDeliveryFailed = errorResponse(502, 'The sandbox could not deliver its webhook.', {
  sandbox_delivery_failed: 'The sandbox could not deliver its webhook.',
});

openapi.registerPath({
  method: 'post',
  path: '/v1/sandbox/payments/{id}/complete',
  operationId: 'completeSandboxPayment',
  tags: ['sandbox'],
  summary: 'Sandbox only: pay (or fail) a sandbox payment',
  description: 'The sandbox sends its signed webhook through the normal webhook path and answers with the payment as it then stands.',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema, body: { content: { 'application/json': { schema: sandboxCompleteSchema } } } },
  responses: {
    200: { description: 'The payment after the webhook', content: { 'application/json': { schema: paymentSchema } } },
    ...commonErrors,
    409: errorResponse(409, 'The payment is not waiting for payment.', { invalid_state_transition: 'This payment is not waiting for payment.' }),
    502: sandboxDeliveryFailed,
  },
});

openapi.registerPath({
  method: 'post',
  path: '/v1/sandbox/payments/{id}/events',
  operationId: 'triggerSandboxEvent',
  tags: ['sandbox'],
  summary: 'Sandbox only: make the provider report something about a payment',
  description:
    'Plays the provider: sends its signed webhook for a processing payment, a success or decline, a refund made at the provider (full, or partial with `amount`), or a dispute opened, won or lost, in whatever order you call it. Answers with the payment as it then stands.',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema, body: { content: { 'application/json': { schema: sandboxTriggerSchema } } } },
  responses: {
    200: { description: 'The payment after the webhook', content: { 'application/json': { schema: paymentSchema } } },
    ...commonErrors,
    502: sandboxDeliveryFailed,
  },
});

/** The signed event a provider would send; one dispute per sandbox payment, so opened and closed match. */
function triggeredEvent(payment: Payment, trigger: z.infer<typeof sandboxTriggerSchema>): SandboxEvent {
  const data: SandboxEvent['data'] = { payment_id: payment.id, amount: payment.amount, currency: payment.currency };
  if (trigger.type === 'refund.succeeded') data.refund = { id: newId('sbx_re'), amount: trigger.amount ?? payment.amount };
  if (trigger.type.startsWith('dispute.')) data.dispute_id = `sbx_dp_${payment.id.slice('pay_'.length)}`;
  return { id: newId('evt'), type: trigger.type, created: Math.floor(Date.now() / 1000), data };
}

export interface SandboxRouterDeps {
  db: Database;
  vault: PersonalDataVault;
  webhookSecret: string;
  webhookUrl: () => string;
  authenticate: RequestHandler[];
}

/** Plays the provider's part: signs a webhook and posts it over HTTP to the gateway, as a real provider would. */
async function deliver(url: string, webhook: { body: Buffer; headers: Record<string, string> }): Promise<void> {
  const response = await fetch(url, { method: 'POST', body: webhook.body, headers: webhook.headers, signal: AbortSignal.timeout(10_000) });
  if (!response.ok) {
    throw new ApiError(502, 'api_error', 'sandbox_delivery_failed', 'The sandbox could not deliver its webhook; try again.');
  }
}

export function sandboxRouter(deps: SandboxRouterDeps): Router {
  const router = exactRouter();
  router.post('/v1/sandbox/payments/:id/complete', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const { outcome } = parseInput(sandboxCompleteSchema, req.body ?? {}, 'body');
    const payment = await findUserPayment(deps.db, deps.vault.userHash(appUser(res).id), id);
    if (!payment || payment.provider !== 'sandbox') throw notFound('sandbox payment');
    if (payment.status !== 'requires_payment' && payment.status !== 'processing') {
      throw invalidStateTransition(`A ${payment.status} payment cannot be completed.`);
    }
    const event = {
      id: newId('evt'),
      type: outcome === 'succeeded' ? ('payment.succeeded' as const) : ('payment.failed' as const),
      data: { payment_id: payment.id, amount: payment.amount, currency: payment.currency },
    };
    await deliver(deps.webhookUrl(), buildSandboxWebhook(deps.webhookSecret, event));
    res.json(paymentView((await findPayment(deps.db, payment.id))!));
  });
  router.post('/v1/sandbox/payments/:id/events', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const trigger = parseInput(sandboxTriggerSchema, req.body ?? {}, 'body');
    const payment = await findUserPayment(deps.db, deps.vault.userHash(appUser(res).id), id);
    if (!payment || payment.provider !== 'sandbox') throw notFound('sandbox payment');
    await deliver(deps.webhookUrl(), buildSandboxWebhook(deps.webhookSecret, triggeredEvent(payment, trigger)));
    res.json(paymentView((await findPayment(deps.db, payment.id))!));
  });
  return router;
}
