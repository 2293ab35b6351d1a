/**
 * One error base for everything the API can answer with. Domain code throws these; the HTTP error
 * middleware turns them into the public error object. Anything that is not an ApiError becomes a
 * generic 500, with details only in the log.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'payment_error'
  | 'permission_error'
  | 'not_found'
  | 'idempotency_error'
  | 'conflict'
  | 'rate_limit_error'
  | 'api_error';

export interface ApiErrorOptions {
  param?: string;
  headers?: Record<string, string>;
  cause?: unknown;
}

export class ApiError extends Error {
  readonly param?: string;
  readonly headers?: Record<string, string>;

  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.param = options.param;
    this.headers = options.headers;
  }
}

export const invalidRequest = (code: string, message: string, param?: string) =>
  new ApiError(400, 'invalid_request_error', code, message, { param });

export const notFound = (what = 'resource', param = 'id') =>
  new ApiError(404, 'not_found', 'resource_missing', `No such ${what}.`, { param });

export const invalidStateTransition = (message: string) => new ApiError(409, 'conflict', 'invalid_state_transition', message);

export const permissionDenied = (code: string, message: string) => new ApiError(403, 'permission_error', code, message);

export const authenticationFailed = (code: 'token_missing' | 'token_invalid' | 'token_expired', message: string) =>
  new ApiError(401, 'authentication_error', code, message, { headers: { 'WWW-Authenticate': 'Bearer' } });

export const paymentBlocked = () =>
  new ApiError(402, 'payment_error', 'payment_blocked', 'This payment cannot be completed. GET /v1/orders/{payment_id}/decision explains why.');
