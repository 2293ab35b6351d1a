import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { DATABASE_RETRY_AFTER_SECONDS, databaseFault, sqlState } from '../db/errors';
import { maskCardNumbers } from '../privacy/card-data';
import { loggablePath } from './logger';
import { ProviderError } from '../providers/types';
import { ApiError } from '../shared/errors';

export function sendError(res: Response, error: ApiError): void {
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  res.status(error.status).json({
    error: {
      type: error.type,
      code: error.code,
      // A message that quotes the request (a path, a sku) never quotes a card number back.
      message: maskCardNumbers(error.message),
      ...(error.param ? { param: error.param } : {}),
      request_id: res.locals.requestId,
    },
  });
}

/** body-parser reports its own failures with a `type`; they are the caller's mistakes, not ours. */
function fromBodyParser(error: { type?: string; status?: number }): ApiError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'invalid_request_error', 'invalid_json', 'The request body is not valid JSON.', { param: 'body' });
    case 'entity.too.large':
      return new ApiError(413, 'invalid_request_error', 'body_too_large', 'The request body is larger than 100 kB.', { param: 'body' });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'The request body must be UTF-8 JSON.', { param: 'Content-Type' });
    case 'request.aborted':
      return new ApiError(400, 'invalid_request_error', 'request_aborted', 'The request was aborted before its body arrived.');
    default:
      // Any other body-parser refusal of the caller's bytes (a corrupt gzip stream, say) is still theirs.
      return error.status !== undefined && error.status >= 400 && error.status < 500
        ? new ApiError(400, 'invalid_request_error', 'invalid_body', 'The request body could not be read.', { param: 'body' })
        : undefined;
  }
}

/**
 * A provider that failed us is not the caller's fault and not a crash of ours: 503 when trying again may
 * work (the Idempotency-Key makes that safe), 502 when the provider refused for good. The provider's own
 * message stays in the log.
 */
function fromProvider(error: ProviderError): ApiError {
  return error.kind === 'terminal'
    ? new ApiError(502, 'api_error', 'provider_error', `The ${error.provider} provider refused the request. Try another payment method.`)
    : new ApiError(503, 'api_error', 'provider_unavailable', `The ${error.provider} provider could not be reached. Retry with the same Idempotency-Key.`, {
        headers: { 'Retry-After': '5' },
      });
}

/**
 * A database outage is not the caller's fault: 503 with Retry-After, logged once per outage by the
 * database's availability tracker rather than once per request here. A value PostgreSQL refused (a data
 * exception that input validation let through) is the caller's: 400, logged with its SQLSTATE so the
 * missing validation can be found.
 */
function fromDatabase(error: unknown, logger: Logger, res: Response): ApiError | undefined {
  switch (databaseFault(error)) {
    case 'unavailable':
      return new ApiError(503, 'api_error', 'service_unavailable', 'The service is briefly unavailable. Retry shortly; a checkout is safe to retry with the same Idempotency-Key.', {
        headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
      });
    case 'bad_input':
      logger.warn({ err: error, code: sqlState(error), requestId: res.locals.requestId }, 'the database refused a value that validation let through');
      return new ApiError(400, 'invalid_request_error', 'parameter_invalid', 'A parameter holds a value or character (such as a NUL byte) that is not accepted.');
    default:
      return undefined;
  }
}

/** Last middleware: known errors become the public error object; anything else is a logged, generic 500. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      // Already answered (a body that stalled past its deadline, say), and its reader has given up since.
      if ((error as { type?: string } | null)?.type === 'request.aborted') return;
      return next(error);
    }
    if (error instanceof ProviderError) {
      logger.warn({ err: error, requestId: res.locals.requestId, provider: error.provider, kind: error.kind }, 'provider call failed');
      return sendError(res, fromProvider(error));
    }
    const known = error instanceof ApiError ? error : (fromBodyParser(error as { type?: string }) ?? fromDatabase(error, logger, res));
    if (known) return sendError(res, known);
    logger.error({ err: error, requestId: res.locals.requestId, route: req.route?.path }, 'unhandled error');
    sendError(res, new ApiError(500, 'api_error', 'internal_error', 'Something went wrong on our side. Quote the request id if you contact support.'));
  };
}

export function unknownRoute(req: Request, res: Response): void {
  sendError(res, new ApiError(404, 'not_found', 'resource_missing', `No route for ${req.method} ${loggablePath(req.path)}.`, { param: 'path' }));
}
