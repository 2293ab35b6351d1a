import type { NextFunction, Request, Response } from 'express';
import { decodePath, findCardData, looksLikeCardNumber, nestsDeeperThan } from '../privacy/card-data';
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

/** Real requests nest a few levels; anything deeper is refused before any recursive walk. */
const MAX_JSON_DEPTH = 32;

/**
 * Where a card number was sent: a body or query field, or the path. Headers are not scanned: none is
 * stored or logged in plaintext (the Idempotency-Key is kept only as a hash), and keys made of timestamps
 * would be refused at random.
 */
function cardDataField(req: Request): string | undefined {
  if (looksLikeCardNumber(decodePath(req.path))) return 'path';
  return findCardData(req.body) ?? findCardData(req.query);
}

/** Refuses card numbers anywhere in the request before any handler, log line or store can see them. */
export function refuseCardData(req: Request, _res: Response, next: NextFunction): void {
  if (nestsDeeperThan(req.body, MAX_JSON_DEPTH)) {
    throw new ApiError(400, 'invalid_request_error', 'parameter_invalid', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`, {
      param: 'body',
    });
  }
  const field = cardDataField(req);
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
