import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from './zod';

/** Routes register their schemas here as they are defined; /openapi.json is generated from this. */
export const openapi = new OpenAPIRegistry();

export const bearerAuth = openapi.registerComponent('securitySchemes', 'appToken', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description: 'App user token from the identity service (`npm run token -- --sub alice` on the embedded instance).',
});

export const errorSchema = z
  .object({
    error: z.object({
      type: z.string().openapi({ example: 'invalid_request_error' }),
      code: z.string().openapi({ example: 'parameter_missing' }),
      message: z.string(),
      param: z.string().optional().openapi({ example: 'device.id' }),
      request_id: z.string(),
    }),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorSchema } } });

/** The error answers every authenticated JSON endpoint can give. */
export const commonErrors = {
  400: errorResponse('Invalid request (see `code` and `param`).'),
  401: errorResponse('Missing, invalid or expired token.'),
  404: errorResponse('No such resource (also for resources of other users).'),
  429: errorResponse('Rate limited; see Retry-After.'),
};

export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() }).openapi(name);
}
