import type { NextFunction, Request, Response } from 'express';
import pino, { DestinationStream, Logger } from 'pino';
import { sqlState } from '../db/errors';
import { INSTANCE_ID, logContext } from '../ops/request-context';
import { decodePath, maskCardNumbers } from '../privacy/card-data';

/**
 * Structured logs without personal data. Request lines keep only method, path and status (see
 * requestLog); these paths are removed as a second line of defence wherever else they appear.
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
 * PostgreSQL's messages quote the values they refused, and a parse error quotes its input.
 */
export function errorForLog(error: unknown, depth = 0): Record<string, unknown> | undefined {
  if (error === null || typeof error !== 'object') return error === undefined ? undefined : { type: typeof error };
  const shape = error as { type?: unknown; name?: unknown; code?: unknown; stack?: unknown; cause?: unknown };
  // A `type` string names an error better than its class where a library sets one (body-parser's
  // `entity.too.large`, Stripe's `StripeInvalidRequestError`).
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
 * The path of a request target, without its query: an absolute-form target (`GET http://user:pass@host/x`,
 * which Node accepts) keeps only its path, so no credentials or host in it reach a log line.
 */
function pathOf(target: string): string {
  if (target.startsWith('/')) return target.split('?')[0];
  return URL.canParse(target) ? new URL(target).pathname : '';
}

/**
 * One line per request once its answer is sent (or the client left first): method and path only, status,
 * time, and from `res.locals` the error code of a 4xx/5xx and the payment the answer was about. No query
 * string, no headers (User-Agent names the device model, forwarding headers the client's address), and card
 * numbers masked even in the path. Always at info: the fault behind a 5xx is logged, once, where it is
 * handled. Written on the gateway's own logger: pino-http built three child loggers per request that nothing
 * read, a twentieth of a checkout's CPU (npm run bench, BENCH_PROFILE=1).
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = Date.now();
    const done = (failure?: Error) => {
      res.off('finish', done).off('close', done).off('error', done);
      const { requestId, errorCode, paymentId } = res.locals as { requestId: string; errorCode?: string; paymentId?: string };
      const answered = res.writableEnded && !req.readableAborted;
      logger.info(
        {
          requestId,
          ...(paymentId ? { paymentId } : {}),
          req: { id: requestId, method: req.method, path: loggablePath(pathOf(req.originalUrl)) },
          res: { statusCode: res.statusCode },
          responseTime: Date.now() - started,
          ...(errorCode ? { errorCode } : {}),
        },
        failure || res.statusCode >= 500 ? 'request errored' : !answered ? 'request aborted' : 'request completed',
      );
    };
    // An 'error' on the response (a write after its end) would crash the process with no listener.
    res.on('finish', done).on('close', done).on('error', done);
    next();
  };
}

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
