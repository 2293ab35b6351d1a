import { randomUUID } from 'node:crypto';
import type { Database, Sql } from '../db/database';
import type { BlindIndex } from '../privacy/keyring';
import { ApiError } from '../shared/errors';

export interface StoredResponse {
  status: number;
  body: unknown;
}

/** Canonical JSON (sorted keys) so that the same body always hashes the same, whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** One user's Idempotency-Key and the request it was sent with, both as keyed hashes (client input is never stored plain). */
export interface IdempotencyScope {
  userHash: string;
  keyHash: string;
  requestHash: string;
}

export function idempotencyScope(blindIndex: BlindIndex, userHash: string, key: string, request: unknown): IdempotencyScope {
  return { userHash, keyHash: blindIndex.hash('idempotency_key', key), requestHash: blindIndex.hash('idempotency_request', canonicalJson(request)) };
}

/**
 * How long a claimed key stays leased without a sign of life. The request holding it renews the lease
 * every LEASE_RENEW_MS while it works (a slow provider call), so only a request that died lets it lapse,
 * and a retry after a crash takes the work over within a few seconds.
 */
export const LEASE_SECONDS = 4;
export const LEASE_RENEW_MS = 1_000;

/** Proof of holding a key's lease: only the holder may store the answer or give the key up. */
export type Lease = string;

export type Claim =
  /** This request owns the key: do the work, then `completeIdempotencyKey`. */
  | { state: 'claimed'; lease: Lease }
  /** The key's first request finished: answer exactly what it answered. */
  | { state: 'completed'; response: StoredResponse }
  /** The first request died (or gave up) half-way: this request resumes its payment under a fresh lease. */
  | { state: 'resumed'; paymentId: string; lease: Lease }
  /** Another request is working on this key right now: wait and look again. */
  | { state: 'busy' };

/** The first request with this key is still running: the client retries shortly (checkout and staff actions alike). */
export const idempotencyKeyInUse = () =>
  new ApiError(409, 'idempotency_error', 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
    param: 'Idempotency-Key',
    headers: { 'Retry-After': '1' },
  });

/**
 * The key was used with another request: 422, as the IETF Idempotency-Key draft has it, so a client can
 * tell this mistake of its own from a 409 that only asks it to retry (checkout and staff actions alike).
 */
export const idempotencyKeyReused = () =>
  new ApiError(422, 'idempotency_error', 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request.', {
    param: 'Idempotency-Key',
  });

interface KeyRow {
  request_hash: string;
  response_status: number | null;
  response_body: string | null;
  payment_id: string | null;
  expired: boolean;
}

/**
 * Claims an idempotency key. The primary key (user, key) does the serialising: a concurrent first claim
 * waits on the insert until the other commits, then sees it. (The checkout claims with its payment in one
 * statement instead, and reads a taken key with `readTakenKey`.)
 */
export async function claimIdempotencyKey(tx: Sql, scope: IdempotencyScope, ttlHours: number): Promise<Claim> {
  const lease = randomUUID();
  for (;;) {
    const claimed = await tx.one(
      `INSERT INTO idempotency_keys (user_hash, key_hash, request_hash, expires_at, locked_until, lease_id)
       VALUES ($1, $2, $3, now() + make_interval(hours => $4), now() + make_interval(secs => $5), $6)
       ON CONFLICT (user_hash, key_hash) DO NOTHING
       RETURNING key_hash`,
      [scope.userHash, scope.keyHash, scope.requestHash, ttlHours, LEASE_SECONDS, lease],
    );
    if (claimed) return { state: 'claimed', lease };
    const taken = await readTakenKey(tx, scope);
    if (taken) return taken;
  }
}

/**
 * What to do about a key another request claimed: replay its answer, resume its payment under a fresh
 * lease, or wait. Undefined when there is no such key any more (an expired claim protects nothing, so it
 * is deleted here): the caller claims it afresh.
 */
export async function readTakenKey(sql: Sql, scope: IdempotencyScope): Promise<Exclude<Claim, { state: 'claimed' }> | undefined> {
  const { keyHash, requestHash } = scope;
  const existing = await sql.one<KeyRow>(
    `SELECT request_hash, response_status, response_body, payment_id, expires_at < now() AS expired
       FROM idempotency_keys WHERE user_hash = $1 AND key_hash = $2`,
    [scope.userHash, keyHash],
  );
  if (!existing) return undefined;
  if (existing.expired) {
    await sql.many('DELETE FROM idempotency_keys WHERE user_hash = $1 AND key_hash = $2 AND expires_at < now()', [scope.userHash, keyHash]);
    return undefined;
  }
  if (existing.request_hash !== requestHash) throw idempotencyKeyReused();
  // Stored as text, not jsonb, so a replay is byte-for-byte the first answer (jsonb reorders keys).
  if (existing.response_status !== null) return { state: 'completed', response: { status: existing.response_status, body: JSON.parse(existing.response_body!) } };
  const lease = randomUUID();
  const takenOver = await sql.one<{ payment_id: string }>(
    `UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $3), lease_id = $4
      WHERE user_hash = $1 AND key_hash = $2 AND response_status IS NULL AND locked_until < now() AND payment_id IS NOT NULL
      RETURNING payment_id`,
    [scope.userHash, keyHash, LEASE_SECONDS, lease],
  );
  return takenOver ? { state: 'resumed', paymentId: takenOver.payment_id, lease } : { state: 'busy' };
}

/** Gives the key up early (the provider failed): the client's retry may resume at once instead of waiting out the lease. */
export async function releaseIdempotencyKey(sql: Sql, scope: IdempotencyScope, lease: Lease): Promise<void> {
  await sql.many(
    'UPDATE idempotency_keys SET locked_until = now() WHERE user_hash = $1 AND key_hash = $2 AND response_status IS NULL AND lease_id = $3',
    [scope.userHash, scope.keyHash, lease],
  );
}

/**
 * Renews the lease while `work` runs, so a request that is merely slow keeps its key, and hands the key
 * back at once if `work` fails, so the client's retry resumes without waiting the lease out.
 */
export async function whileLeased<T>(db: Database, scope: IdempotencyScope, lease: Lease, work: () => Promise<T>): Promise<T> {
  const renew = () =>
    db.many(
      `UPDATE idempotency_keys SET locked_until = now() + make_interval(secs => $4)
        WHERE user_hash = $1 AND key_hash = $2 AND lease_id = $3 AND response_status IS NULL`,
      [scope.userHash, scope.keyHash, lease, LEASE_SECONDS],
    );
  const timer = setInterval(() => void renew().catch(() => undefined), LEASE_RENEW_MS);
  try {
    return await work();
  } catch (error) {
    await releaseIdempotencyKey(db, scope, lease).catch(() => undefined);
    throw error;
  } finally {
    clearInterval(timer);
  }
}

/**
 * Stores the key's answer, if this request still holds the lease. False when another request took the
 * key over meanwhile: its answer is the one that counts.
 */
export async function completeIdempotencyKey(tx: Sql, scope: IdempotencyScope, lease: Lease, response: StoredResponse, paymentId: string): Promise<boolean> {
  const stored = await tx.one(
    `UPDATE idempotency_keys SET response_status = $4, response_body = $5, payment_id = $6, locked_until = NULL
      WHERE user_hash = $1 AND key_hash = $2 AND lease_id = $3 AND response_status IS NULL
      RETURNING key_hash`,
    [scope.userHash, scope.keyHash, lease, response.status, JSON.stringify(response.body), paymentId],
  );
  return Boolean(stored);
}

/** Deletes answered keys past their retention (IDEMPOTENCY_TTL_HOURS): they protect nothing any more. */
export async function purgeExpiredIdempotencyKeys(sql: Sql): Promise<number> {
  const purged = await sql.many('DELETE FROM idempotency_keys WHERE expires_at < now() AND response_status IS NOT NULL RETURNING key_hash');
  return purged.length;
}
