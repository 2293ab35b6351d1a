import { createHash } from 'node:crypto';
import type { Sql } from '../db/database';
import { ApiError } from '../shared/errors';

export interface StoredResponse {
  status: number;
  body: unknown;
}

/** Canonical JSON (sorted keys) so that the same body always hashes the same, whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

export interface IdempotencyScope {
  userHash: string;
  key: string;
  request: unknown;
}

const reused = () =>
  new ApiError(409, 'idempotency_error', 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request body.', {
    param: 'Idempotency-Key',
  });

/**
 * Claims an idempotency key inside the caller's transaction. The primary key (user, key) does the
 * serialising: a concurrent request with the same key blocks on the insert until the first transaction
 * commits, then finds the stored response. Returns the stored response to replay, or undefined when this
 * request owns the key and must call `complete` before committing.
 */
export async function claimIdempotencyKey(tx: Sql, scope: IdempotencyScope, ttlHours: number): Promise<StoredResponse | undefined> {
  const keyHash = sha256(scope.key);
  const requestHash = sha256(canonicalJson(scope.request));
  // An expired claim no longer protects anything; clear it so the key can start afresh.
  await tx.many('DELETE FROM idempotency_keys WHERE user_hash = $1 AND key_hash = $2 AND expires_at < now()', [scope.userHash, keyHash]);
  const claimed = await tx.one(
    `INSERT INTO idempotency_keys (user_hash, key_hash, request_hash, response_status, response_body, expires_at)
     VALUES ($1, $2, $3, 0, 'null', now() + make_interval(hours => $4))
     ON CONFLICT (user_hash, key_hash) DO NOTHING
     RETURNING key_hash`,
    [scope.userHash, keyHash, requestHash, ttlHours],
  );
  if (claimed) return undefined;
  // Stored as text, not jsonb, so a replay is byte-for-byte the first answer (jsonb reorders keys).
  const existing = await tx.one<{ request_hash: string; response_status: number; response_body: string }>(
    'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE user_hash = $1 AND key_hash = $2',
    [scope.userHash, keyHash],
  );
  if (!existing) throw new Error('Idempotency record disappeared during the claim');
  if (existing.request_hash !== requestHash) throw reused();
  return { status: existing.response_status, body: JSON.parse(existing.response_body) };
}

export async function completeIdempotencyKey(tx: Sql, scope: IdempotencyScope, response: StoredResponse, paymentId: string) {
  await tx.many(
    'UPDATE idempotency_keys SET response_status = $3, response_body = $4, payment_id = $5 WHERE user_hash = $1 AND key_hash = $2',
    [scope.userHash, sha256(scope.key), response.status, JSON.stringify(response.body), paymentId],
  );
}
