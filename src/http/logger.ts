import pino, { DestinationStream, Logger } from 'pino';
import { sqlState } from '../db/errors';
import { INSTANCE_ID, logContext } from '../ops/request-context';
import { decodePath, maskCardNumbers } from '../privacy/card-data';

/**
 * Structured logs without personal data. Request lines keep only method, path and status (see
 * requestLogSerializers); these paths are removed as a second line of defence wherever else they appear.
 * Request bodies are never logged.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sandbox-signature"]',
  'req.headers["stripe-signature"]',
  'req.headers["step-up-token"]',
  'req.headers["x-forwarded-for"]',
  'req.headers["x-real-ip"]',
  'req.remoteAddress',
  'req.remotePort',
  'res.headers["set-cookie"]',
  '*.userId',
  '*.user_id',
  '*.ipAddress',
  '*.deviceId',
];

/** The path as logged or echoed: decoded first, so a card number spelled with %20 or %34%32 is masked too. */
export function loggablePath(rawPath: string): string {
  return maskCardNumbers(decodePath(rawPath));
}

/**
 * What a log line keeps of an error: its class, its code (a SQLSTATE, an errno, a provider's code) and the
 * code locations it passed through, and the same of its cause. Never its message nor its other
 * properties: a QueryFailedError carries the SQL and its parameters (blind-index hashes, ciphertexts),
 * PostgreSQL's messages quote the values they refused, and a parse error quotes its input. pino-http hands
 * this an error it has already turned into a plain object; pino hands it the error itself.
 */
export function errorForLog(error: unknown, depth = 0): Record<string, unknown> | undefined {
  if (error === null || typeof error !== 'object') return error === undefined ? undefined : { type: typeof error };
  const shape = error as { type?: unknown; name?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
  const type = typeof shape.type === 'string' ? shape.type : error.constructor?.name && error.constructor.name !== 'Object' ? error.constructor.name : String(shape.name ?? 'Error');
  const code = sqlState(error) ?? (typeof shape.code === 'string' || typeof shape.code === 'number' ? String(shape.code) : undefined);
  const frames = typeof shape.stack === 'string' ? shape.stack.split('\n').filter((line) => /^\s+at /.test(line)).map((line) => line.trim()) : [];
  return {
    type,
    ...(code !== undefined ? { code } : {}),
    ...(frames.length > 0 ? { stack: frames.join('\n') } : {}),
    ...(shape.cause !== undefined && depth < 3 ? { cause: errorForLog(shape.cause, depth + 1) } : {}),
  };
}

/**
 * What a request log line keeps: method and path only. No query string, no headers (User-Agent names the
 * device model, forwarding headers the client's address), and card numbers masked even in the path.
 */
export const requestLogSerializers = {
  req: (req: { id?: unknown; method?: string; url?: string }) => ({
    id: req.id,
    method: req.method,
    path: loggablePath(String(req.url ?? '').split('?')[0]),
  }),
  res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
  err: errorForLog,
};

/** Every line names the instance, and (while a request runs) its request id and payment: see request-context.ts. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, remove: true },
      base: { service: 'kalos-pay', instance: INSTANCE_ID },
      serializers: { err: errorForLog },
      mixin: logContext,
    },
    destination,
  );
}
