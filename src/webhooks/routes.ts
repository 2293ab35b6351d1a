import express, { Request, Response, Router } from 'express';
import { openapi } from '../http/openapi-registry';
import { z } from '../http/zod';
import type { WebhookService } from './service';
import { exactRouter } from '../http/router';

openapi.registerPath({
  method: 'post',
  path: '/v1/webhooks/{provider}',
  operationId: 'receiveWebhook',
  tags: ['webhooks'],
  summary: 'Provider notifications (sandbox, stripe, alipay), verified on the raw body',
  description:
    'sandbox: JSON with Sandbox-Signature; stripe: Stripe event JSON with Stripe-Signature; alipay: form-urlencoded async notify, answered with plain `success`/`failure`. A bad or missing signature is answered 400 and changes nothing.',
  request: {
    params: z.object({ provider: z.enum(['sandbox', 'stripe', 'alipay']) }),
    body: {
      description: 'Exactly the bytes the provider sent: the signature is checked over them.',
      content: {
        'application/json': { schema: z.object({}).passthrough().openapi({ description: 'sandbox and stripe events' }) },
        'application/x-www-form-urlencoded': { schema: z.object({}).passthrough().openapi({ description: 'Alipay async notifications' }) },
      },
    },
  },
  responses: {
    200: { description: 'Processed, or a duplicate of a processed event (Alipay: plain `success`)' },
    400: { description: 'Signature or format rejected; nothing changed (Alipay: plain `failure`)' },
    404: { description: 'That provider is not enabled on this gateway' },
    413: { description: 'The body is over 100 kB' },
    500: { description: 'Not processed because of a fault of ours; the provider retries (Alipay: plain `failure`)' },
  },
});

/**
 * Webhooks take the raw body (signatures are over the exact bytes), so this router is mounted before the
 * JSON parser and parses nothing itself.
 */
export function webhooksRouter(webhooks: WebhookService): Router {
  const router = exactRouter();
  router.post('/v1/webhooks/:provider', express.raw({ type: () => true, limit: '100kb' }), async (req: Request, res: Response) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const reply = await webhooks.receive(String(req.params.provider), { rawBody, headers: req.headers });
    let body = reply.body;
    if (reply.contentType === 'application/json' && reply.status >= 400) {
      const parsed = JSON.parse(reply.body) as { error: Record<string, unknown> };
      body = JSON.stringify({ error: { ...parsed.error, request_id: res.locals.requestId } });
    }
    res.status(reply.status).type(reply.contentType).send(body);
  });
  return router;
}
