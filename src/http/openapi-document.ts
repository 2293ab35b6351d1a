import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { openapi, retryAfterHeader } from './openapi-registry';

type Document = ReturnType<OpenApiGeneratorV31['generateDocument']>;
type Operation = { operationId?: string; tags?: string[]; requestBody?: { required?: boolean }; responses?: Record<string, Response> };
type Response = { description: string; headers?: Record<string, unknown> };

/** The tags of the document, one per domain, in the order /docs shows them. */
const TAGS = [
  { name: 'catalog', description: 'What can be bought, at the server’s prices.' },
  { name: 'checkout', description: 'Creating payments, and step-up verification of challenged ones.' },
  { name: 'orders', description: 'The caller’s payments, their history and risk decisions.' },
  { name: 'webhooks', description: 'Provider notifications, verified on the raw body.' },
  { name: 'privacy', description: 'The caller’s own data: consents, export and erasure.' },
  { name: 'recommendations', description: 'Catalog suggestions (only with the personalisation consent).' },
  { name: 'sandbox', description: 'The built-in sandbox provider (not in production unless enabled).' },
  { name: 'operations', description: 'Health, readiness and metrics.' },
];

const BODY_ERRORS = ['408', '413', '415'];
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

const requestIdHeader = { $ref: '#/components/headers/RequestId' };

const capitalised = (word: string) => word.replace(/(^|[-_.])(\w)/g, (_, _sep, letter: string) => letter.toUpperCase());

/** `get /v1/orders/{id}/decision` → `getOrdersByIdDecision`: only for a route registered without an operationId. */
function derivedOperationId(method: string, path: string): string {
  const words = path.split('/').filter((part) => part && part !== 'v1');
  return method + words.map((word) => (word.startsWith('{') ? `By${capitalised(word.slice(1, -1))}` : capitalised(word))).join('');
}

/** `/v1/<domain>/…` → `<domain>`; `/healthz` and the like → operations. */
function derivedTag(path: string): string {
  const match = /^\/v1\/([^/]+)/.exec(path);
  return match ? match[1] : 'operations';
}

/**
 * What every operation gets whatever registered it, so a generated client is usable: an operationId and a
 * tag (derived from the path when a route names none), X-Request-Id on every answer, Retry-After on every
 * 429 and 503 (both always send it), no body errors
 * (408/413/415) on an operation that takes no body, and a body marked required (every body this API
 * takes is; OpenAPI's default, optional, would make a client's body argument optional).
 */
function finishOperation(method: string, path: string, operation: Operation): void {
  operation.operationId ??= derivedOperationId(method, path);
  operation.tags ??= [derivedTag(path)];
  if (operation.requestBody) operation.requestBody.required ??= true;
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    if (!operation.requestBody && BODY_ERRORS.includes(status)) {
      delete operation.responses![status];
      continue;
    }
    response.headers = { 'X-Request-Id': requestIdHeader, ...(status === '429' || status === '503' ? retryAfterHeader : {}), ...response.headers };
  }
}

/**
 * /openapi.json. The server URL is relative, so the /docs page's "Try it out" calls whatever host served it
 * (127.0.0.1:PORT, a proxy's name) and the CSP's 'self' allows it.
 */
export function buildOpenApiDocument(): Document {
  const document = new OpenApiGeneratorV31(openapi.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'kalos-pay',
      version: '1.0.0',
      description:
        'In-app payment gateway. Money is an integer in the currency’s minor unit; errors are `{ error: { type, code, message, param, request_id } }`.',
    },
    servers: [{ url: '/' }],
    tags: TAGS,
  });
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (operation) finishOperation(method, path, operation);
    }
  }
  document.components = {
    ...document.components,
    headers: {
      RequestId: {
        description: 'This request’s id (yours when you sent a sane X-Request-Id); quote it when asking about a request.',
        schema: { type: 'string', example: 'req_3kTq9Zr1Xw' },
      },
    },
  };
  // A tag derived for a route registered without one still gets its entry, so /docs lists it.
  const declared = new Set(TAGS.map((tag) => tag.name));
  const used = Object.values(document.paths ?? {}).flatMap((item) => METHODS.flatMap((method) => (item as Record<string, Operation | undefined>)[method]?.tags ?? []));
  document.tags = [...TAGS, ...[...new Set(used)].filter((tag) => !declared.has(tag)).map((name) => ({ name }))];
  return document;
}
