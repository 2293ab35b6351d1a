import { Request, Response, Router, RequestHandler } from 'express';
import type { Database } from '../db/database';
import { appUser } from '../http/auth';
import { bearerAuth, commonErrors, errorResponse, jsonContent, listSchema, openapi } from '../http/openapi-registry';
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
  operationId: 'createCheckout',
  tags: ['checkout'],
  summary: 'Create a payment for a catalog item',
  description: 'Prices come from the server catalog. Replays the stored answer for a repeated Idempotency-Key (24 h).',
  security: [{ [bearerAuth.name]: [] }],
  request: {
    headers: idempotencyHeaderSchema,
    body: { content: { 'application/json': { schema: checkoutRequestSchema } } },
  },
  responses: {
    201: jsonContent(paymentSchema, 'The payment, with next_action for the app'),
    ...commonErrors,
    402: errorResponse(402, 'Blocked by the risk engine; `payment_id` is the payment kept.', {
      payment_blocked: 'This payment cannot be completed. GET /v1/orders/{payment_id}/decision explains why.',
    }),
    403: errorResponse(403, 'A guardian must consent, or the provider is outside DATA_REGION and the payer has not consented to the transfer.', {
      guardian_consent_required: 'A guardian must consent before this account can pay.',
      cross_border_consent_required: 'Paying with this provider moves data abroad; consent to the transfer first.',
    }),
    409: errorResponse(409, 'The first request with this key is still running: retry after Retry-After.', {
      idempotency_key_in_use: 'A request with this Idempotency-Key is in progress.',
    }, { retry: true }),
    422: errorResponse(422, 'The key was used with another request body: use a new key for a new request.', {
      idempotency_key_reused: 'This Idempotency-Key was used with another request.',
    }),
    502: errorResponse(502, 'The provider refused to open the payment.', { provider_error: 'The payment provider refused the payment.' }),
  },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders',
  operationId: 'listOrders',
  tags: ['orders'],
  summary: "The caller's payments, newest first",
  security: [{ [bearerAuth.name]: [] }],
  request: { query: listQuerySchema },
  responses: { 200: jsonContent(listSchema(paymentSchema, 'PaymentList'), 'A page of payments'), ...commonErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders/{id}',
  operationId: 'getOrder',
  tags: ['orders'],
  summary: 'One payment with its status history, refunds and after-sale cases',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema },
  responses: { 200: jsonContent(orderDetailSchema, 'The order'), ...commonErrors },
});

interface PaymentsRouterDeps {
  db: Database;
  vault: PersonalDataVault;
  checkout: CheckoutService;
  /** Authentication and the per-user rate limit. */
  authenticate: RequestHandler[];
  /** Authentication alone, for the checkout, which spends the per-user rate limit itself (`admitUser`). */
  requireUser: RequestHandler;
  admitUser: (userId: string) => Promise<void>;
}

/** Stored error answers are replayed with the current request's id. */
function sendStored(res: Response, stored: { status: number; body: unknown }) {
  const body = stored.body as { error?: Record<string, unknown> };
  res.status(stored.status).json(body.error ? { error: { ...body.error, request_id: res.locals.requestId } } : body);
}

export function paymentsRouter(deps: PaymentsRouterDeps): Router {
  const router = exactRouter();

  router.post('/v1/checkouts', deps.requireUser, async (req: Request, res: Response) => {
    const { 'Idempotency-Key': idempotencyKey } = parseInput(idempotencyHeaderSchema, { 'Idempotency-Key': req.get('idempotency-key') }, 'header');
    const request = parseInput(checkoutRequestSchema, req.body, 'body');
    const user = appUser(res);
    const admit = () => deps.admitUser(user.id);
    const stored = await deps.checkout.checkout({ user, idempotencyKey, request, ipAddress: req.ip ?? '', admit });
    if (stored.replayed) res.locals.idempotentReplay = true; // for the metrics (src/ops/instrument.ts)
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
