import { Request, Response, Router, RequestHandler } from 'express';
import type { Database } from '../db/database';
import { appUser } from '../http/auth';
import { bearerAuth, commonErrors, errorSchema, jsonContent, listSchema, openapi } from '../http/openapi-registry';
import { parseInput } from '../http/validation';
import type { PersonalDataVault } from '../privacy/vault';
import { notFound } from '../shared/errors';
import type { CheckoutService } from './checkout';
import { listUserPayments } from './orders';
import { findUserPayment } from './payment';
import {
  checkoutRequestSchema,
  idempotencyHeaderSchema,
  listQuerySchema,
  orderDetailSchema,
  paymentIdParamsSchema,
  paymentSchema,
} from './schemas';
import { orderDetailView, paymentView } from './views';
import { exactRouter } from '../http/router';


openapi.registerPath({
  method: 'post',
  path: '/v1/checkouts',
  summary: 'Create a payment for a catalog item',
  description: 'Prices come from the server catalog. Replays the stored answer for a repeated Idempotency-Key (24 h).',
  security: [{ [bearerAuth.name]: [] }],
  request: {
    headers: idempotencyHeaderSchema,
    body: { content: { 'application/json': { schema: checkoutRequestSchema } } },
  },
  responses: {
    201: jsonContent(paymentSchema, 'The payment, with next_action for the app'),
    402: jsonContent(errorSchema, 'Blocked by the risk engine (payment_blocked)'),
    403: jsonContent(errorSchema, 'A guardian must consent (guardian_consent_required), or the provider is outside DATA_REGION and the payer has not consented to the transfer (cross_border_consent_required)'),
    409: jsonContent(errorSchema, '`idempotency_key_reused` (another body) or `idempotency_key_in_use` (the first request is still running)'),
    502: jsonContent(errorSchema, '`provider_error`: the provider refused to open the payment'),
    ...commonErrors,
  },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders',
  summary: "The caller's payments, newest first",
  security: [{ [bearerAuth.name]: [] }],
  request: { query: listQuerySchema },
  responses: { 200: jsonContent(listSchema(paymentSchema, 'PaymentList'), 'A page of payments'), ...commonErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders/{id}',
  summary: 'One payment with its status history, refunds and after-sale cases',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema },
  responses: { 200: jsonContent(orderDetailSchema, 'The order'), ...commonErrors },
});

interface PaymentsRouterDeps {
  db: Database;
  vault: PersonalDataVault;
  checkout: CheckoutService;
  authenticate: RequestHandler[];
}

/** Stored error answers are replayed with the current request's id. */
function sendStored(res: Response, stored: { status: number; body: unknown }) {
  const body = stored.body as { error?: Record<string, unknown> };
  res.status(stored.status).json(body.error ? { error: { ...body.error, request_id: res.locals.requestId } } : body);
}

export function paymentsRouter(deps: PaymentsRouterDeps): Router {
  const router = exactRouter();

  router.post('/v1/checkouts', ...deps.authenticate, async (req: Request, res: Response) => {
    const { 'Idempotency-Key': idempotencyKey } = parseInput(idempotencyHeaderSchema, { 'Idempotency-Key': req.get('idempotency-key') }, 'header');
    const request = parseInput(checkoutRequestSchema, req.body, 'body');
    const stored = await deps.checkout.checkout({ user: appUser(res), idempotencyKey, request, ipAddress: req.ip ?? '' });
    sendStored(res, stored);
  });

  router.get('/v1/orders', ...deps.authenticate, async (req: Request, res: Response) => {
    const query = parseInput(listQuerySchema, req.query, 'query');
    const page = await listUserPayments(deps.db, deps.vault.userHash(appUser(res).id), { limit: query.limit, startingAfter: query.starting_after });
    res.json({ object: 'list', data: page.payments.map(paymentView), has_more: page.hasMore });
  });

  router.get('/v1/orders/:id', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const payment = await findUserPayment(deps.db, deps.vault.userHash(appUser(res).id), id);
    if (!payment) throw notFound('payment');
    res.json(await orderDetailView(deps.db, payment));
  });

  return router;
}
