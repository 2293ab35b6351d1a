import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database';
import type { PersonalDataVault } from '../privacy/vault';
import type { RiskEngine } from '../risk/types';
import { newId } from '../shared/ids';
import { ProvenIdentity, stepUpReused } from './identity';

export interface ErasureDeps {
  db: Database;
  vault: PersonalDataVault;
  /** Drops the subject's velocity counters (Redis or in-process): the risk engine's forgetUser. */
  forgetUser: (userHash: string) => Promise<void>;
  logger: Pick<Logger, 'warn'>;
}

/** The erasure's dependencies, from a gateway's wiring (the HTTP route, the CLI and the scheduler use the same). */
export function erasureDepsOf(gateway: { db: Database; vault: PersonalDataVault; risk: RiskEngine; logger: Pick<Logger, 'warn'> }): ErasureDeps {
  return { db: gateway.db, vault: gateway.vault, forgetUser: (userHash) => gateway.risk.forgetUser(userHash), logger: gateway.logger };
}

interface ErasureRow {
  id: string;
  subject_hash: string | null;
  status: 'pending' | 'completed';
  waiting_for: string[];
  created_at: Date;
  completed_at: Date | null;
}

const REQUEST_COLUMNS = 'id, subject_hash, status, waiting_for, created_at, completed_at';

/** The erasure request object of the API. */
export function erasureView(row: ErasureRow) {
  const waiting = row.status === 'pending' && row.waiting_for.length > 0;
  return {
    id: row.id,
    object: 'erasure_request' as const,
    status: row.status,
    waiting_for_payments: row.waiting_for,
    message: waiting
      ? 'Some payments have an open dispute or a refund in flight. They are finished first; your data is erased when they close.'
      : row.status === 'pending'
        ? 'Your data is being erased.'
        : 'Your personal data is erased. Payment amounts, currencies, times, items and statuses are kept without any link to you, for accounting.',
    created_at: row.created_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
  };
}

export type ErasureView = ReturnType<typeof erasureView>;

/** What marks a record as no longer anyone's: it cannot equal a blind index value (those have no colon). */
const tombstoneOf = (requestId: string) => `erased:${requestId}`;

/**
 * Payments whose money is still moving (an open dispute, a refund the provider has not settled) keep their
 * data until that ends: the provider may still need us to answer about them.
 */
async function heldPayments(tx: Sql, paymentIds: string[]): Promise<string[]> {
  const rows = await tx.many<{ id: string }>(
    `SELECT p.id FROM payments p WHERE p.id = ANY($1)
        AND (p.open_dispute OR EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.status = 'pending'))
      ORDER BY p.id`,
    [paymentIds],
  );
  return rows.map((row) => row.id);
}

/**
 * Unlinks every record from the subject and destroys what is theirs: the accounting columns stay (amount,
 * currency, times, item, status, facts, status history), the hashes that found them by user or device
 * become the tombstone, the risk journal loses its keyed hashes, and spent step-up tokens, idempotency
 * answers, consents and export records go. The data key goes last (crypto-shredding), which makes every
 * sealed column unreadable, here and in every backup.
 */
async function unlinkAndShred(tx: Sql, vault: PersonalDataVault, userHash: string, subjectRef: string, paymentIds: string[], tombstone: string) {
  await tx.many('UPDATE payments SET user_hash = $2, device_hash = $2 WHERE id = ANY($1)', [paymentIds, tombstone]);
  await tx.many(`UPDATE risk_decisions SET features = features - 'keys' WHERE payment_id = ANY($1)`, [paymentIds]);
  await tx.many('DELETE FROM risk_step_up_tokens WHERE payment_id = ANY($1)', [paymentIds]);
  await tx.many('DELETE FROM idempotency_keys WHERE user_hash = $1', [userHash]);
  await tx.many('DELETE FROM consent_events WHERE subject_hash = $1', [userHash]);
  await tx.many(`DELETE FROM rights_requests WHERE subject_ref = $1 AND kind = 'export'`, [subjectRef]);
  await vault.shred(tx, userHash);
}

/**
 * Tries to finish one pending erasure. The subject's key row is locked first, so checkouts sealing data for
 * them finish before and those arriving later wait, then start a fresh subject; the payments are locked
 * next, so a webhook or refund on one of them is applied before or after, never in between.
 * Returns the subject hash when the erasure completed, for the counters to be forgotten after commit.
 */
async function attemptErasure(tx: Sql, vault: PersonalDataVault, requestId: string): Promise<{ row: ErasureRow; erased?: string } | undefined> {
  await tx.many(`SET LOCAL kalos.maintenance = 'erasure'`);
  const request = await tx.one<ErasureRow & { subject_ref: string }>(
    `SELECT ${REQUEST_COLUMNS}, subject_ref FROM rights_requests WHERE id = $1 AND kind = 'erasure' FOR UPDATE`,
    [requestId],
  );
  if (!request || request.status !== 'pending' || !request.subject_hash) return request && { row: request };
  const userHash = request.subject_hash;
  await vault.lockSubjectKey(tx, userHash);
  const payments = await tx.many<{ id: string }>('SELECT id FROM payments WHERE user_hash = $1 ORDER BY id FOR UPDATE', [userHash]);
  const paymentIds = payments.map((payment) => payment.id);
  const held = await heldPayments(tx, paymentIds);
  if (held.length > 0) {
    const row = await tx.one<ErasureRow>(`UPDATE rights_requests SET waiting_for = $2 WHERE id = $1 RETURNING ${REQUEST_COLUMNS}`, [
      requestId, JSON.stringify(held),
    ]);
    return { row: row! };
  }
  await unlinkAndShred(tx, vault, userHash, request.subject_ref, paymentIds, tombstoneOf(requestId));
  const row = await tx.one<ErasureRow>(
    `UPDATE rights_requests SET status = 'completed', completed_at = clock_timestamp(), subject_hash = NULL, waiting_for = '[]'
      WHERE id = $1 RETURNING ${REQUEST_COLUMNS}`,
    [requestId],
  );
  return { row: row!, erased: userHash };
}

/** Runs one erasure attempt, then forgets the counters; they expire within a day if Redis is unreachable now. */
export async function processErasure(deps: ErasureDeps, requestId: string): Promise<ErasureRow | undefined> {
  const outcome = await deps.db.transaction((tx) => attemptErasure(tx, deps.vault, requestId));
  if (outcome?.erased) {
    await deps.forgetUser(outcome.erased).catch((error: unknown) => {
      deps.logger.warn({ err: { name: (error as Error)?.name }, requestId }, 'erasure could not drop velocity counters now; they expire within 24 h');
    });
  }
  return outcome?.row;
}

/**
 * Records the request (spending its step-up token) and tries to complete it at once. A request that must
 * wait stays pending; `processPendingErasures` finishes it once its payments close.
 */
export async function requestErasure(deps: ErasureDeps, userHash: string, proof: ProvenIdentity): Promise<ErasureView> {
  const id = newId('era');
  const created = await deps.db.one<{ id: string }>(
    `INSERT INTO rights_requests (id, kind, subject_ref, subject_hash, token_hash, status) VALUES ($1, 'erasure', $2, $3, $4, 'pending')
     ON CONFLICT (token_hash) DO NOTHING RETURNING id`,
    [id, proof.subjectRef, userHash, proof.tokenHash],
  );
  if (!created) throw stepUpReused();
  return erasureView((await processErasure(deps, id))!);
}

/** The caller's own erasure request; another subject's looks missing. */
export async function findErasure(sql: Sql, subjectRef: string, id: string): Promise<ErasureView | undefined> {
  const row = await sql.one<ErasureRow>(`SELECT ${REQUEST_COLUMNS} FROM rights_requests WHERE id = $1 AND subject_ref = $2 AND kind = 'erasure'`, [
    id, subjectRef,
  ]);
  return row && erasureView(row);
}

/**
 * Retries every pending erasure, oldest first: those that waited for a dispute or a refund complete once
 * it closed. Meant to run on a schedule (the job engine); returns how many completed.
 */
export async function processPendingErasures(deps: ErasureDeps, limit = 100): Promise<number> {
  const pending = await deps.db.many<{ id: string }>(
    `SELECT id FROM rights_requests WHERE kind = 'erasure' AND status = 'pending' ORDER BY created_at LIMIT $1`,
    [limit],
  );
  let completed = 0;
  for (const { id } of pending) if ((await processErasure(deps, id))?.status === 'completed') completed += 1;
  return completed;
}
