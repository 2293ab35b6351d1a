import type { Sql } from '../db/database';
import type { NextAction } from '../providers/types';
import { DECISION_COLUMNS, decisionValues, JournalEntry } from '../risk/journal';
import type { IdempotencyScope, Lease, StoredResponse } from './idempotency';
import { LEASE_SECONDS } from './idempotency';
import { PAYMENT_COLUMNS, PaymentRow } from './payment';
import type { PaymentStatus } from './status';

/**
 * The checkout's writes, each one statement: a statement is atomic on its own, so the hot path needs no
 * BEGIN/COMMIT, and every round trip saved is latency and server CPU saved under load.
 */

/** A payment as the checkout decided it, its personal fields already sealed. */
export interface PaymentDraft {
  id: string;
  userHash: string;
  /** The data key the personal fields are sealed under (see the vault's SealingKey). */
  dataKeyId: string;
  userIdEnc: string;
  deviceHash: string;
  deviceEnc: string;
  ipEnc: string;
  locationEnc: string | null;
  sku: string;
  itemName: string;
  quantity: number;
  amount: number;
  currency: string;
  provider: string;
  captureMethod: 'automatic' | 'manual';
  status: PaymentStatus;
  riskDecision: string;
  riskScore: number;
  nextAction: NextAction | null;
  historySource: string;
  /** What the risk engine journals with the payment; undefined when it journals nothing (risk disabled, allowed). */
  journal?: JournalEntry;
}

const PAYMENT_INSERT_COLUMNS = `id, user_hash, user_id_enc, device_hash, device_enc, ip_enc, location_enc, sku, item_name, quantity,
  amount, currency, provider, capture_method, status, risk_decision, risk_score, next_action`;

function claimAndCreateText(withJournal: boolean): string {
  const journal = withJournal
    ? `, decision AS (INSERT INTO risk_decisions (payment_id, ${DECISION_COLUMNS})
         SELECT id, $26, $27, $28, $29, $30, $31, $32, $33 FROM payment)`
    : '';
  // The data key's row is share-locked first (the vault's SealingKey contract): without it nothing is
  // claimed or stored. The key row names a payment that the same statement inserts: foreign keys are
  // checked at its end.
  return `WITH sealed_under AS (
      SELECT id FROM subject_keys WHERE id = $25 AND subject_hash = $2 FOR KEY SHARE
    ), claim AS (
      INSERT INTO idempotency_keys (user_hash, key_hash, request_hash, expires_at, locked_until, lease_id, payment_id)
      SELECT $2, $19, $20, now() + make_interval(hours => $21), now() + make_interval(secs => $22), $23, $1 FROM sealed_under
      ON CONFLICT (user_hash, key_hash) DO NOTHING RETURNING key_hash
    ), payment AS (
      INSERT INTO payments (${PAYMENT_INSERT_COLUMNS})
      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM claim
      RETURNING ${PAYMENT_COLUMNS}
    ), history AS (
      INSERT INTO payment_status_history (payment_id, from_status, to_status, source) SELECT id, NULL, status, $24 FROM payment
    )${journal}
    SELECT payment.*, EXISTS (SELECT 1 FROM sealed_under) AS data_key_held FROM (SELECT 1) AS one LEFT JOIN payment ON true`;
}

const CLAIM_AND_CREATE = claimAndCreateText(true);
const CLAIM_AND_CREATE_UNJOURNALED = claimAndCreateText(false);

export type Claimed =
  | { outcome: 'created'; row: PaymentRow }
  /** The Idempotency-Key was taken already: nothing was written. */
  | { outcome: 'key_taken' }
  /** The data key the draft was sealed under is gone (the subject was erased): nothing was written. */
  | { outcome: 'data_key_gone' };

/**
 * The checkout's first step in one statement, on its own (no transaction): claims the Idempotency-Key
 * (leased to `lease`), stores the payment, its first history row and the risk decision, and returns the
 * payment; all of it or nothing.
 */
export async function claimKeyAndCreatePayment(
  sql: Sql,
  scope: IdempotencyScope,
  ttlHours: number,
  lease: Lease,
  draft: PaymentDraft,
): Promise<Claimed> {
  const params: unknown[] = [
    draft.id, draft.userHash, draft.userIdEnc, draft.deviceHash, draft.deviceEnc, draft.ipEnc, draft.locationEnc, draft.sku, draft.itemName,
    draft.quantity, draft.amount, draft.currency, draft.provider, draft.captureMethod, draft.status, draft.riskDecision, draft.riskScore,
    draft.nextAction && JSON.stringify(draft.nextAction),
    scope.keyHash, scope.requestHash, ttlHours, LEASE_SECONDS, lease, draft.historySource, draft.dataKeyId,
  ];
  const result = draft.journal
    ? await sql.one<PaymentRow & { data_key_held: boolean }>(CLAIM_AND_CREATE, [...params, ...decisionValues(draft.journal)])
    : await sql.one<PaymentRow & { data_key_held: boolean }>(CLAIM_AND_CREATE_UNJOURNALED, params);
  const { data_key_held: held, ...row } = result!;
  if (!held) return { outcome: 'data_key_gone' };
  return row.id ? { outcome: 'created', row: row as PaymentRow } : { outcome: 'key_taken' };
}

/**
 * Stores the provider's session with the payment and the checkout's answer with its key, in one
 * statement. Undefined when the payment was not waiting for a session any more (it has one, or was
 * canceled): nothing was written. `answered` is false when another request took the key over meanwhile.
 * The row is not read back: the statement writes only what the caller hands it, and the answer already
 * shows the payment as it leaves it.
 */
export async function storeSessionAndAnswer(
  sql: Sql,
  scope: IdempotencyScope,
  lease: Lease,
  session: { paymentId: string; providerRef: string; nextAction: NextAction | null; updatedAt: Date },
  response: StoredResponse,
): Promise<{ answered: boolean } | undefined> {
  return sql.one<{ answered: boolean }>(
    `WITH session AS (
        UPDATE payments SET provider_ref = $2, next_action = $3, updated_at = $4
         WHERE id = $1 AND provider_ref IS NULL AND status NOT IN ('canceled', 'blocked') RETURNING id
      ), answer AS (
        UPDATE idempotency_keys SET response_status = $8, response_body = $9, locked_until = NULL
         WHERE user_hash = $5 AND key_hash = $6 AND lease_id = $7 AND response_status IS NULL AND EXISTS (SELECT 1 FROM session)
         RETURNING key_hash
      )
      SELECT EXISTS (SELECT 1 FROM answer) AS answered FROM session`,
    [
      session.paymentId, session.providerRef, JSON.stringify(session.nextAction), session.updatedAt,
      scope.userHash, scope.keyHash, lease, response.status, JSON.stringify(response.body),
    ],
  );
}
