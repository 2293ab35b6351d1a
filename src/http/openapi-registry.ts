import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
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

const errorResponse = (description: string) => jsonContent(errorSchema, description);

/** The error answers every authenticated JSON endpoint can give. */
export const commonErrors = {
  400: errorResponse(
    'Invalid request: `parameter_missing`, `parameter_invalid`, `parameter_unknown`, `invalid_json`, `card_data_not_accepted`, `unknown_sku` (see `param`).',
  ),
  401: errorResponse('`token_missing`, `token_invalid` or `token_expired`.'),
  408: errorResponse('`request_timeout`: the request body stopped arriving (see HTTP_BODY_IDLE_TIMEOUT_MS); the connection is closed.'),
  404: errorResponse('`resource_missing`: no such resource (also for resources of other users).'),
  413: errorResponse('`body_too_large`: the body is over 100 kB.'),
  415: errorResponse('`unsupported_media_type`: send application/json.'),
  429: errorResponse('`rate_limited`; see Retry-After.'),
  503: errorResponse(
    '`service_unavailable` (the database), `identity_unavailable` or `provider_unavailable`: a service we depend on is down; retry after Retry-After.',
  ),
};

export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() }).openapi(name);
}
