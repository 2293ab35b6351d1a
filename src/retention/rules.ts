import type { RetentionKind } from './settings';

/**
 * What retention does to one kind of record once it is older than its setting. `batch` is one statement
 * taking at most $2 rows older than the cutoff $1, locked with SKIP LOCKED so two sweeps (two instances, or
 * a sweep and a manual run) share the work instead of waiting on each other; it returns one row per record
 * changed. A record that was changed no longer matches, which is what makes a sweep resumable.
 */
export interface RetentionRule {
  kind: RetentionKind;
  table: string;
  action: 'delete' | 'anonymise';
  batch: string;
}

/** Deletes rows of `table` (identified by `key`) that match `where`. */
const deleting = (kind: RetentionKind, table: string, key: string, where: string): RetentionRule => ({
  kind,
  table,
  action: 'delete',
  batch: `DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${where} LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1`,
});

/**
 * Statuses in which a payment's money no longer moves: nothing in flight at a provider, no review open.
 * `failed` is included: reconcile stops asking about it long before any accounting row is anonymised.
 */
const SETTLED = `'succeeded', 'partially_refunded', 'refunded', 'failed', 'canceled', 'blocked'`;

/**
 * The accounting record outlives the person: amount, currency, time, item and status stay; the sealed
 * personal fields are blanked and both blind-index hashes become a tombstone of the payment's own id, so the
 * row can no longer be linked to the user, their device, or their other payments. A payment with an open
 * dispute or a refund in flight is left until it settles.
 */
const ANONYMISE_PAYMENTS = `
  UPDATE payments SET user_hash = 'anonymised:' || id, device_hash = 'anonymised:' || id, user_id_enc = '', device_enc = '',
         ip_enc = NULL, location_enc = NULL, next_action = NULL
   WHERE id IN (
     SELECT p.id FROM payments p
      WHERE p.updated_at < $1 AND p.user_id_enc <> '' AND p.status IN (${SETTLED}) AND NOT p.open_dispute
        AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.status = 'pending')
      LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING 1`;

/** The signals a decision was made on (device model, countries, counts) go; its outcome and plain-words explanation stay. */
const BLANK_RISK_FEATURES = `
  UPDATE risk_decisions SET features = '{}'::jsonb
   WHERE id IN (SELECT id FROM risk_decisions WHERE created_at < $1 AND features <> '{}'::jsonb LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING 1`;

/** In the order a sweep runs them: anonymising first, so a row is never deleted before a rule that keeps part of it. */
export const RETENTION_RULES: readonly RetentionRule[] = [
  { kind: 'paymentPersonal', table: 'payments', action: 'anonymise', batch: ANONYMISE_PAYMENTS },
  { kind: 'riskFeatures', table: 'risk_decisions', action: 'anonymise', batch: BLANK_RISK_FEATURES },
  deleting('riskDecisions', 'risk_decisions', 'id', 'created_at < $1'),
  deleting('webhookEvents', 'webhook_events', 'provider, event_id', 'received_at < $1'),
  deleting('statusHistory', 'payment_status_history', 'id', 'at < $1'),
  deleting('stepUp', 'risk_step_up_attempts', 'id', 'at < $1'),
  deleting('stepUp', 'risk_step_up_tokens', 'token_hash', 'used_at < $1'),
  // Answered keys go when they expire (reconcile); these never got an answer, and no request holds them now.
  deleting(
    'unansweredIdempotency',
    'idempotency_keys',
    'user_hash, key_hash',
    'response_status IS NULL AND created_at < $1 AND (locked_until IS NULL OR locked_until < clock_timestamp())',
  ),
  // A staff member's retry of an approval or a refund comes within minutes; the stored answer is not needed after.
  deleting('staffIdempotency', 'staff_idempotency_keys', 'staff_id, key_hash', 'created_at < $1'),
];
