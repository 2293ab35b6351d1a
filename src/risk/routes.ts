import { Request, RequestHandler, Response, Router } from 'express';
import type { TokenVerifier } from '../auth/app-tokens';
import type { Database } from '../db/database';
import { appUser } from '../http/auth';
import { bearerAuth, commonErrors, errorResponse, jsonContent, openapi } from '../http/openapi-registry';
import { parseInput } from '../http/validation';
import { z } from '../http/zod';
import type { CheckoutService } from '../payments/checkout';
import { findUserPayment } from '../payments/payment';
import { paymentIdParamsSchema, paymentSchema } from '../payments/schemas';
import { paymentView } from '../payments/views';
import type { PersonalDataVault } from '../privacy/vault';
import { ApiError, notFound, paymentBlocked } from '../shared/errors';
import { explain, latestDecision } from './journal';
import type { StepUpSettings } from './settings';
import { verifyStepUp } from './step-up';
import { exactRouter } from '../http/router';

const verifyBodySchema = z.object({ step_up_token: z.string().min(1).max(8_192) }).strict().openapi('StepUpRequest');

const decisionSchema = z
  .object({
    decision: z.enum(['allow', 'challenge', 'review', 'block']),
    automated: z.literal(true),
    reasons: z.array(z.object({ code: z.string(), description: z.string() })),
    how_to_contest: z.string(),
  })
  .openapi('RiskDecisionExplanation');


openapi.registerPath({
  method: 'post',
  path: '/v1/checkouts/{id}/verify',
  operationId: 'verifyCheckout',
  tags: ['checkout'],
  summary: 'Step-up verification of a payment the risk engine challenged',
  description:
    'Send a fresh token from the identity service for the same user, with `amr` containing `mfa` (or the configured `acr`) and `auth_time` within the last five minutes. A failed try answers 400 `verification_failed`; the last allowed failure blocks the payment (402).',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema, body: { content: { 'application/json': { schema: verifyBodySchema } } } },
  responses: {
    200: jsonContent(paymentSchema, 'Verified: the payment now requires payment, with its next_action'),
    ...commonErrors,
    400: errorResponse(400, 'Invalid request, or a verification that was not accepted (`verification_failed`).', {
      ...commonErrors[400].content['application/json'].examples,
      verification_failed: 'The verification was not accepted. Attempts left: 2.',
    }),
    402: errorResponse(402, 'Too many failed verifications: the payment is blocked.', {
      payment_blocked: 'This payment cannot be completed. GET /v1/orders/{payment_id}/decision explains why.',
    }),
    403: errorResponse(403, 'Verified, but the provider is outside DATA_REGION and the transfer consent was withdrawn; retry once it is given.', {
      cross_border_consent_required: 'Paying with this provider moves data abroad; consent to the transfer first.',
    }),
    409: errorResponse(409, 'The payment does not wait for verification.', { invalid_state_transition: 'This payment is not waiting for verification.' }),
  },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/orders/{id}/decision',
  operationId: 'getOrderDecision',
  tags: ['orders'],
  summary: 'Why the automated risk decision about this payment was made',
  description: 'Reason categories in plain words, never thresholds, and how to contest the decision.',
  security: [{ [bearerAuth.name]: [] }],
  request: { params: paymentIdParamsSchema },
  responses: { 200: jsonContent(decisionSchema, 'The explanation'), ...commonErrors },
});

export interface RiskRouterDeps {
  db: Database;
  vault: PersonalDataVault;
  tokens: TokenVerifier;
  checkout: CheckoutService;
  stepUp: StepUpSettings;
  authenticate: RequestHandler[];
}

const verificationFailed = (attemptsLeft: number) =>
  new ApiError(400, 'invalid_request_error', 'verification_failed', `The verification was not accepted. Attempts left: ${attemptsLeft}.`, {
    param: 'step_up_token',
  });

/** POST /v1/checkouts/{id}/verify and GET /v1/orders/{id}/decision. */
export function riskRouter(deps: RiskRouterDeps): Router {
  const router = exactRouter();

  router.post('/v1/checkouts/:id/verify', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const body = parseInput(verifyBodySchema, req.body, 'body');
    const user = appUser(res);
    const result = await verifyStepUp(
      { db: deps.db, settings: deps.stepUp, verifyJwt: (token) => deps.tokens.verify(token) },
      { paymentId: id, userId: user.id, userHash: deps.vault.userHash(user.id), token: body.step_up_token, now: new Date() },
    );
    if (result.outcome === 'failed') throw verificationFailed(result.attemptsLeft);
    if (result.outcome === 'blocked') throw paymentBlocked();
    res.json(paymentView(await deps.checkout.openSession(result.payment)));
  });

  router.get('/v1/orders/:id/decision', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
    const payment = await findUserPayment(deps.db, deps.vault.userHash(appUser(res).id), id);
    const row = payment && (await latestDecision(deps.db, payment.id));
    if (!row) throw notFound('payment');
    res.json(explain(row));
  });

  return router;
}
