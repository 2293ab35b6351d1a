import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { ErrorType } from '../shared/errors';
import { z } from './zod';

/** Routes register their schemas here as they are defined; /openapi.json is generated from this. */
export const openapi = new OpenAPIRegistry();

export const bearerAuth = openapi.registerComponent('securitySchemes', 'appToken', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'App user token from the identity service (`kalos token --sub alice`, or `npm run token -- --sub alice`, on the embedded instance).',
});

export const errorSchema = z
  .object({
    error: z.object({
      type: z.string().openapi({ example: 'invalid_request_error' }),
      code: z.string().openapi({ example: 'parameter_missing' }),
      message: z.string(),
      param: z.string().optional().openapi({ example: 'device.id', description: 'The offending field, when there is one.' }),
      payment_id: z.string().optional().openapi({ description: 'On a checkout refusal (402, 403, 502): the payment that was kept.' }),
      request_id: z.string(),
    }),
  })
  .openapi('Error');

/** A JSON response of `schema`, for registerPath. */
export const jsonContent = (schema: Parameters<typeof openapi.register>[1], description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/** The error type each status carries (idempotency's 409 and 422 are the exceptions, see CODE_TYPES). */
const STATUS_TYPES: Record<number, ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'payment_error',
  403: 'permission_error',
  404: 'not_found',
  408: 'invalid_request_error',
  409: 'conflict',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
};
const CODE_TYPES: Record<string, ErrorType> = { idempotency_key_in_use: 'idempotency_error', idempotency_key_reused: 'idempotency_error' };

/** Answers that tell the client when to try again. */
export const retryAfterHeader = {
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' as const, minimum: 1 } },
};

/**
 * An error answer with one example per code it can carry (`codes`: code → a typical message), so /docs and
 * generated clients show the real codes of each status rather than one generic example. 429 and 503 declare
 * Retry-After; `retry` adds it elsewhere (a 409 idempotency_key_in_use).
 */
export function errorResponse(status: number, description: string, codes: Record<string, string>, options: { retry?: boolean } = {}) {
  const examples = Object.fromEntries(
    Object.entries(codes).map(([code, message]) => [
      code,
      { summary: code, value: { error: { type: CODE_TYPES[code] ?? STATUS_TYPES[status], code, message, request_id: 'req_3kTq9Zr1Xw' } } },
    ]),
  );
  return {
    description,
    ...(options.retry || status === 429 || status === 503 ? { headers: retryAfterHeader } : {}),
    content: { 'application/json': { schema: errorSchema, examples } },
  };
}

/** The error answers every authenticated JSON endpoint can give (408, 413 and 415 only where a body is sent: see openapi-document.ts). */
export const commonErrors = {
  400: errorResponse(400, 'Invalid request; `param` names the field.', {
    parameter_missing: 'Missing required parameter: sku.',
    parameter_invalid: 'Invalid value for quantity: must be from 1 to 99.',
    parameter_unknown: 'Unknown parameter: price.',
    invalid_json: 'The body is not valid JSON.',
    card_data_not_accepted: 'Card numbers are not accepted here; card entry happens in the provider SDK.',
    unknown_sku: 'No such item in the catalog.',
  }),
  401: errorResponse(401, 'No valid app token.', {
    token_missing: 'An app token is required (Authorization: Bearer).',
    token_invalid: 'The app token is not valid.',
    token_expired: 'The app token has expired.',
  }),
  404: errorResponse(404, 'No such resource (also for resources of other users).', { resource_missing: 'No such payment.' }),
  408: errorResponse(408, 'The request body stopped arriving (HTTP_BODY_IDLE_TIMEOUT_MS); the connection is closed.', {
    request_timeout: 'The request body stopped arriving.',
  }),
  413: errorResponse(413, 'The body is over 100 kB.', { body_too_large: 'The request body is too large.' }),
  415: errorResponse(415, 'Send application/json.', { unsupported_media_type: 'Send the body as application/json.' }),
  429: errorResponse(429, 'Over the per-IP or per-user budget; retry after Retry-After.', { rate_limited: 'Too many requests; retry in 12 s.' }),
  503: errorResponse(503, 'A service we depend on is down; retry after Retry-After.', {
    service_unavailable: 'The service is temporarily unavailable.',
    identity_unavailable: 'The identity service cannot be reached.',
    provider_unavailable: 'The payment provider cannot be reached.',
  }),
};

/** A timestamp as the API writes them (ISO 8601, UTC). */
export const timestamp = () => z.string().openapi({ format: 'date-time', example: '2026-11-30T12:00:00.000Z' });

export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() }).openapi(name);
}
