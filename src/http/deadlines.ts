import type { NextFunction, Request, Response } from 'express';
import { sendError } from './errors';
import { ApiError } from '../shared/errors';

/**
 * A body read deadline: a request whose body stops arriving for `idleMs` is answered 408 and its
 * connection closed. It times silence, not the whole body, so a webhook trickling in slowly but steadily
 * is read to the end (the server's requestTimeout caps the total). Node's socket timer does the timing:
 * the request emits `timeout` only while its body is incomplete, and the timer is disarmed as soon as the
 * body has been read, so a handler that takes its time is never cut.
 */
export function bodyReadDeadline(idleMs: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody || req.complete) return next();
    const onTimeout = () => {
      if (res.headersSent) return void req.socket.destroy();
      res.setHeader('Connection', 'close');
      sendError(res, new ApiError(408, 'invalid_request_error', 'request_timeout', `The request body stopped arriving for ${idleMs} ms.`, { param: 'body' }));
    };
    req.setTimeout(idleMs, onTimeout);
    req.once('end', () => {
      req.off('timeout', onTimeout);
      req.socket.setTimeout(0);
    });
    next();
  };
}
