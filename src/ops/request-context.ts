import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';
import type { NextFunction, Request, Response } from 'express';

/**
 * What every log line written while handling a request should carry, without each module passing it on:
 * the request id, and the payment once one is known (a checkout's answer, a verified webhook). Ids only,
 * never personal data.
 */
interface RequestContext {
  requestId: string;
  paymentId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** This process among the gateway's instances: the host (a pod's name) and the process id. */
export const INSTANCE_ID = `${os.hostname()}:${process.pid}`;

/** Runs the rest of the request inside its context; mounted right after the request id is chosen. */
export function withRequestContext(_req: Request, res: Response, next: NextFunction): void {
  storage.run({ requestId: res.locals.requestId as string }, next);
}

/** Marks the request as being about this payment, for the log lines that follow. */
export function notePaymentId(paymentId: string | undefined): void {
  const context = storage.getStore();
  if (context && paymentId) context.paymentId = paymentId;
}

/** pino's mixin: the current request's ids on every line logged while it runs. */
export function logContext(): Record<string, string> {
  const context = storage.getStore();
  if (!context) return {};
  return context.paymentId ? { requestId: context.requestId, paymentId: context.paymentId } : { requestId: context.requestId };
}
