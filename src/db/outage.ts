import type { Logger } from 'pino';

/** Socket-level failures of the connection to PostgreSQL (the server is down, restarting or unreachable). */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATE: connection exceptions (class 08), the server shutting down or starting (57P01–57P03), too many connections. */
const UNAVAILABLE_SQLSTATES = /^(08|57P0[123]$|53300$)/;
const UNAVAILABLE_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Connection ended unexpectedly|connection is not open/i;

/** True when `error` (or what it wraps: TypeORM's driverError, a cause) says the database cannot be reached. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const { code, message, driverError, cause } = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.test(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
  return isDatabaseUnavailable(driverError, depth + 1) || isDatabaseUnavailable(cause, depth + 1);
}

/** An outage is over once no request has hit it for this long; the next one is logged again. */
const OUTAGE_QUIET_MS = 30_000;

/**
 * Logs a database outage once when it starts (and how many requests it refused when it ends), instead of a
 * stack per request. In-process state on purpose: it only decides what this instance logs.
 */
export function createOutageLog(logger: Logger, now = () => Date.now()) {
  let lastSeen = 0;
  let refused = 0;
  return function databaseUnavailable(error: unknown): void {
    const at = now();
    if (at - lastSeen > OUTAGE_QUIET_MS) {
      if (refused > 0) logger.info({ refused }, 'database outage over');
      refused = 0;
      logger.warn({ errorClass: (error as Error)?.name, code: (error as { code?: string })?.code }, 'database unavailable: answering 503 until it is back');
    }
    lastSeen = at;
    refused += 1;
  };
}
