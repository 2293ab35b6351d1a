import type { Logger } from 'pino';

/**
 * What a failure of a database call means for the caller, decided in one place:
 * - `bad_input`: PostgreSQL refused a value (SQLSTATE class 22, data exception: a NUL byte, text where a
 *   number belongs, a value out of range). Input validation should have caught it; when it did not, the
 *   caller still gets a 400, never a 500.
 * - `unavailable`: the database cannot be reached or is shutting down (connection refused or reset, the
 *   pool could not hand out a connection in time, SQLSTATE class 08, 57P01–57P03, 53300). The caller gets
 *   a 503 with Retry-After, and the outage is logged once, not per request.
 * Anything else (a constraint the code relies on, a deadlock, a bug in a query) stays a fault of ours.
 */
export type DatabaseFault = 'bad_input' | 'unavailable';

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** SQLSTATEs of a server that is going away or cannot take us now. */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Socket errors of the driver: the server is not there, or went away mid-conversation. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Messages of pg and pg-pool for a lost connection, an acquire timeout and a pool already shut. */
const CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end on the pool/,
  /^Connection ended unexpectedly/,
  /connection is not open/i,
];

interface ErrorShape {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  driverError?: unknown;
  errors?: unknown;
}

/** The SQLSTATE a PostgreSQL error carries (pg's DatabaseError, or TypeORM's QueryFailedError that copies it). */
export function sqlState(error: unknown): string | undefined {
  const code = (error as ErrorShape | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

/** Errors inside `error`: TypeORM's driverError, a cause, or the attempts of an AggregateError (one per address). */
function inner(error: ErrorShape): unknown[] {
  return [error.driverError, error.cause, ...(Array.isArray(error.errors) ? error.errors : [])].filter((e) => e !== undefined && e !== null);
}

function faultOf(error: unknown, depth: number): DatabaseFault | undefined {
  if (error === null || typeof error !== 'object' || depth > 4) return undefined;
  const shape = error as ErrorShape;
  const state = sqlState(shape);
  if (state) {
    if (state.startsWith('22')) return 'bad_input';
    if (state.startsWith('08') || UNAVAILABLE_STATES.has(state)) return 'unavailable';
    return undefined;
  }
  if (typeof shape.code === 'string' && CONNECTION_ERRNOS.has(shape.code)) return 'unavailable';
  if (typeof shape.message === 'string' && CONNECTION_MESSAGES.some((pattern) => pattern.test(shape.message as string))) return 'unavailable';
  for (const nested of inner(shape)) {
    const fault = faultOf(nested, depth + 1);
    if (fault) return fault;
  }
  return undefined;
}

export function databaseFault(error: unknown): DatabaseFault | undefined {
  return faultOf(error, 0);
}

/** True for errors that come from PostgreSQL or TypeORM's query layer: their message may quote stored or sent values. */
export function isDatabaseError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const shape = error as ErrorShape & { name?: unknown; type?: unknown };
  const name = typeof shape.type === 'string' ? shape.type : shape.name;
  return sqlState(shape) !== undefined || name === 'QueryFailedError' || name === 'DatabaseError' || 'driverError' in shape;
}

/** How long a client is asked to wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * Tracks whether the database answers, from the outcome of every call, so an outage is logged as two lines
 * (a warning when it starts, an info line when it ends) however many requests it turns away.
 */
export class DatabaseAvailability {
  private downSince: number | undefined;
  private refused = 0;

  constructor(private readonly logger?: Logger) {}

  get available(): boolean {
    return this.downSince === undefined;
  }

  /** Called with every failure of a database call; only connection-class failures count. */
  failed(error: unknown): void {
    if (databaseFault(error) !== 'unavailable') return;
    this.refused++;
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    // The code names the outage (ECONNREFUSED, 57P01…); a stack would say nothing more, once per outage.
    const code = sqlState(error) ?? (error as ErrorShape).code;
    this.logger?.warn(
      { code: typeof code === 'string' ? code : undefined, type: (error as Error).constructor?.name },
      'database unavailable: requests answer 503 service_unavailable until it is back',
    );
  }

  succeeded(): void {
    if (this.downSince === undefined) return;
    const downMs = Date.now() - this.downSince;
    const failedCalls = this.refused;
    this.downSince = undefined;
    this.refused = 0;
    this.logger?.info({ downMs, failedCalls }, 'database available again');
  }
}
