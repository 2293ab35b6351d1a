import { AlipayRequestError } from 'alipay-sdk';
import { ProviderError, ProviderFailureKind } from '../types';
import { AlipayReply, REPLY_OUTCOME_UNKNOWN } from './mapping';

/**
 * The one place Alipay failures are sorted into retryable, indeterminate and terminal. Messages carry Alipay's
 * codes only: `sub_msg` and raw answers can echo request fields or buyer data, so they stay out of errors.
 */

/** Alipay understood the request and answered with a code other than 10000. */
export class AlipayRefusal extends Error {
  constructor(
    readonly method: string,
    readonly reply: AlipayReply,
  ) {
    super(`${method} answered ${reply.code}${reply.sub_code ? ` ${reply.sub_code}` : ''}`);
    this.name = 'AlipayRefusal';
  }
}

/** Sub-codes Alipay documents as "system busy: call again with the same parameters". */
const RETRY_SUB_CODES = new Set(['ACQ.SYSTEM_ERROR', 'aop.ACQ.SYSTEM_ERROR']);
/** Connection errors raised before any byte reached Alipay. */
const NOTHING_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

export function alipayFailure(error: unknown, method: string): ProviderError {
  if (error instanceof ProviderError) return error;
  const kind = failureKind(error);
  const { reason, cause } = describe(error);
  return new ProviderError('alipay', kind, `Alipay ${method} failed (${kind}): ${reason}`, { cause });
}

/** A non-10000 answer as a ProviderError. */
export function refusedBy(method: string, reply: AlipayReply): ProviderError {
  return alipayFailure(new AlipayRefusal(method, reply), method);
}

function failureKind(error: unknown): ProviderFailureKind {
  if (error instanceof AlipayRefusal) {
    if (error.reply.code === REPLY_OUTCOME_UNKNOWN) return 'indeterminate';
    return RETRY_SUB_CODES.has(error.reply.sub_code ?? '') ? 'retryable' : 'terminal';
  }
  if (error instanceof AlipayRequestError && NOTHING_SENT_CODES.has(transportCode(error) ?? '')) return 'retryable';
  // A timeout, a reset, an HTTP error, an unreadable or wrongly signed answer: Alipay may have acted on it.
  return 'indeterminate';
}

function transportCode(error: AlipayRequestError): string | undefined {
  const cause = error.cause as { code?: unknown; name?: unknown } | undefined;
  if (!cause) return undefined;
  return typeof cause.code === 'string' ? cause.code : String(cause.name);
}

/** The SDK's own messages quote the raw answer, so only the transport error (no content) is kept as the cause. */
function describe(error: unknown): { reason: string; cause?: unknown } {
  if (error instanceof AlipayRefusal) return { reason: error.message, cause: error };
  if (error instanceof AlipayRequestError) {
    const code = transportCode(error);
    if (code) return { reason: `the HTTP call did not complete (${code})`, cause: error.cause };
    const trace = error.traceId ? ` (trace id ${error.traceId})` : '';
    return { reason: `the answer was missing, unreadable or not signed by Alipay${trace}` };
  }
  return { reason: error instanceof Error ? error.name : 'unknown error', cause: error };
}
