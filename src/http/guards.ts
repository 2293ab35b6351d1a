import type { NextFunction, Request, Response } from 'express';
import { findCardData } from '../privacy/card-data';
import { ApiError } from '../shared/errors';

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** JSON endpoints take JSON only; anything else is a clear 415 rather than a confusing "missing parameter". */
export function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  if (hasBody(req) && !req.is('application/json')) {
    throw new ApiError(415, 'invalid_request_error', 'unsupported_media_type', 'Send the request body as application/json.', {
      param: 'Content-Type',
    });
  }
  next();
}

/** Refuses card numbers anywhere in the body or query before any handler, log line or store can see them. */
export function refuseCardData(req: Request, _res: Response, next: NextFunction): void {
  const field = findCardData(req.body) ?? findCardData(req.query);
  if (field) {
    req.body = undefined;
    throw new ApiError(
      400,
      'invalid_request_error',
      'card_data_not_accepted',
      'Card numbers must never be sent to this API; card details are entered only in the payment provider’s own form.',
      { param: field },
    );
  }
  next();
}
