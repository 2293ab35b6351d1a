import type { NextFunction, Request, Response } from 'express';
import { looksLikeCardNumber } from '../privacy/card-data';
import { newId } from '../shared/ids';

const SAFE_INCOMING_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Every response carries X-Request-Id: the caller's own when it sent a sane one, else a new `req_…`. An id
 * that holds a card number is never adopted, since it would be echoed back and logged.
 */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.get('x-request-id');
  const id = incoming && SAFE_INCOMING_ID.test(incoming) && !looksLikeCardNumber(incoming) ? incoming : newId('req');
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}
