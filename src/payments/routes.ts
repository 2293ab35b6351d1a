import { Request, Response, Router, RequestHandler } from 'express';
import type { Database } from '../db/database';
import { appUser } from '../http/auth';
import { bearerAuth, commonErrors, errorSchema, listSchema, openapi } from '../http/openapi-registry';
import { parseInput } from '../http/validation';
import type { PersonalDataVault } from '../privacy/vault';
import { invalidRequest, notFound } from '../shared/errors';
import type { CheckoutService } from './checkout';
import { findUserPayment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';
import {
  checkoutRequestSchema,
  idempotencyHeaderSchema,
  listQuerySchema,
  orderDetailSchema,
  paymentIdParamsSchema,
  paymentSchema,
} from './schemas';
import { orderDetailView, paymentView } from './views';

const json = (schema: Parameters<typeof openapi.register>[1], description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

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
    201: json(paymentSchema, 'The payment, with next_action for the app'),
    402: json(errorSchema, 'Blocked by the risk engine (payment_blocked)'),
    403: json(errorSchema, 'A guardian must consent (guardian_consent_required)'),
    409: json(errorSchema, 'Idempotency-Key reused with another body'),
    502: json(errorSchema, 'The provider refused the request (provider_error)'),
    503: json(errorSchema, 'The provider could not be reached (provider_unavailable); retry with the same key'),
    ...commonErrors,
  },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders',
  summary: "The caller's payments, newest first",
  security: [{ [bearerAuth.name]: [] }],
  request: { query: listQuerySchema },
  responses: { 200: json(listSchema(paymentSchema, 'PaymentList'), 'A page of payments'), ...commonErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders/{id}',
  summary: 'One payment with its status history, refunds and after-sale cases',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema },
  responses: { 200: json(orderDetailSchema, 'The order'), ...commonErrors },
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
  const router = Router();

  router.post('/v1/checkouts', ...deps.authenticate, async (req: Request, res: Response) => {
    const { 'Idempotency-Key': idempotencyKey } = parseInput(idempotencyHeaderSchema, { 'Idempotency-Key': req.get('idempotency-key') }, 'header');
    const request = parseInput(checkoutRequestSchema, req.body, 'body');
    const stored = await deps.checkout.checkout({ user: appUser(res), idempotencyKey, request, ipAddress: req.ip ?? '' });
    sendStored(res, stored);
  });

  router.get('/v1/orders', ...deps.authenticate, async (req: Request, res: Response) => {
    const query = parseInput(listQuerySchema, req.query, 'query');
    const userHash = deps.vault.userHash(appUser(res).id);
    let cursor: PaymentRow | undefined;
    if (query.starting_after) {
      cursor = await deps.db.one<PaymentRow>('SELECT id, created_at FROM payments WHERE id = $1 AND user_hash = $2', [query.starting_after, userHash]);
      if (!cursor) throw invalidRequest('parameter_invalid', 'starting_after does not name one of your payments.', 'starting_after');
    }
    const rows = await deps.db.many<PaymentRow>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments
        WHERE user_hash = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userHash, cursor?.created_at ?? null, cursor?.id ?? null, query.limit + 1],
    );
    res.json({ object: 'list', data: rows.slice(0, query.limit).map((row) => paymentView(toPayment(row))), has_more: rows.length > query.limit });
  });

  router.get('/v1/orders/:id', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const payment = await findUserPayment(deps.db, deps.vault.userHash(appUser(res).id), id);
    if (!payment) throw notFound('payment');
    res.json(await orderDetailView(deps.db, payment));
  });

  return router;
}
