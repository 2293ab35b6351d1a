import { createHmac, createSecretKey, KeyObject } from 'node:crypto';
import type { Database, Sql } from '../db/database';
import { canonicalJson } from '../payments/idempotency';

/**
 * The tamper-evident audit trail of staff access (PCI DSS 10.2/10.3): who did what to which resource, when,
 * with what outcome. Rows form a hash chain keyed with a key derived from the blind index key, so someone
 * with write access to the database but not the key cannot rewrite a row and recompute the chain after it.
 */

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  /** The staff id (token subject), or `anonymous` when no token could be read. */
  actor: string;
  /** The roles the actor's token carried, comma separated; empty when unauthenticated. */
  role: string;
  action: string;
  /** e.g. `payment:pay_123`, `blocklist:42`, `ops:/v1/ops/payments`. */
  resource: string;
  outcome: AuditOutcome;
  requestId: string;
  /** Keyed hash of the origin IP (never the address itself). */
  ipHash: string;
  /** Reason, error code, amounts: never personal data. */
  detail?: Record<string, unknown>;
}

export interface AuditRow extends Required<AuditEntry> {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

interface StoredRow {
  seq: string;
  at: Date;
  actor: string;
  role: string;
  action: string;
  resource: string;
  outcome: AuditOutcome;
  request_id: string;
  ip_hash: string;
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

const toRow = (row: StoredRow): AuditRow => ({
  seq: Number(row.seq),
  at: row.at,
  actor: row.actor,
  role: row.role,
  action: row.action,
  resource: row.resource,
  outcome: row.outcome,
  requestId: row.request_id,
  ipHash: row.ip_hash,
  detail: row.detail,
  prevHash: row.prev_hash,
  hash: row.hash,
});

const COLUMNS = 'seq, at, actor, role, action, resource, outcome, request_id, ip_hash, detail, prev_hash, hash';

/** Every stored field but the hash itself, in a fixed order: a change to any of them breaks the row's hash. */
function rowHash(key: KeyObject, row: Omit<AuditRow, 'hash'>): string {
  const content = canonicalJson({
    seq: row.seq, at: row.at.toISOString(), actor: row.actor, role: row.role, action: row.action, resource: row.resource,
    outcome: row.outcome, request_id: row.requestId, ip_hash: row.ipHash, detail: row.detail, prev_hash: row.prevHash,
  });
  return createHmac('sha256', key).update(content).digest('base64url');
}

export interface AuditTrail {
  append(entry: AuditEntry, options?: { at?: Date }): Promise<AuditRow>;
  list(query: AuditQuery): Promise<AuditRow[]>;
  ipHash(ip: string): string;
}

export interface AuditQuery {
  limit: number;
  /** Rows with a smaller seq than this (newest first paging). */
  beforeSeq?: number;
  actor?: string;
  action?: string;
  resource?: string;
}

/** Derived key labels: a new label starts a new key. */
export const AUDIT_CHAIN_KEY_LABEL = 'audit-chain-v1';
export const AUDIT_IP_KEY_LABEL = 'audit-ip-v1';

export function createAuditTrail(db: Database, keys: { chainKey: Buffer; ipKey: Buffer }): AuditTrail {
  // KeyObjects, as every key used again and again (src/privacy/keyring.ts on Buffer keys).
  const chainKey = createSecretKey(keys.chainKey);
  const ipKey = createSecretKey(keys.ipKey);
  /**
   * The chain head is locked for the rest of the transaction, so appends from several instances queue on it
   * and each sees the hash of the row before. The row's time is taken under the lock too, so seq and at agree.
   */
  async function appendIn(tx: Sql, entry: AuditEntry, at?: Date): Promise<AuditRow> {
    const head = (await tx.one<{ seq: string; hash: string; now: Date }>('SELECT seq, hash, clock_timestamp() AS now FROM audit_chain_head FOR UPDATE'))!;
    const unhashed = {
      ...entry,
      detail: entry.detail ?? {},
      seq: Number(head.seq) + 1,
      at: at ?? head.now,
      prevHash: head.hash,
    };
    const row: AuditRow = { ...unhashed, hash: rowHash(chainKey, unhashed) };
    await tx.many(
      `INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [row.seq, row.at, row.actor, row.role, row.action, row.resource, row.outcome, row.requestId, row.ipHash, JSON.stringify(row.detail), row.prevHash, row.hash],
    );
    await tx.many('UPDATE audit_chain_head SET seq = $1, hash = $2', [row.seq, row.hash]);
    return row;
  }

  return {
    append: (entry, options = {}) => db.transaction((tx) => appendIn(tx, entry, options.at)),
    async list(query) {
      const rows = await db.many<StoredRow>(
        `SELECT ${COLUMNS} FROM audit_log
          WHERE ($1::bigint IS NULL OR seq < $1) AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)
            AND ($4::text IS NULL OR resource = $4)
          ORDER BY seq DESC LIMIT $5`,
        [query.beforeSeq ?? null, query.actor ?? null, query.action ?? null, query.resource ?? null, query.limit],
      );
      return rows.map(toRow);
    },
    ipHash: (ip) => createHmac('sha256', ipKey).update(ip).digest('base64url'),
  };
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  anchorSeq: number;
  problems: string[];
}

const BATCH = 1_000;

/**
 * Walks the chain from its anchor and names every row that breaks it: a row whose content no longer matches
 * its hash (changed), a gap in seq (deleted), a row that does not follow the one before (reordered, or a
 * row between was removed and the seqs renumbered), and rows missing at the end (the head knows the last seq).
 */
export async function verifyAuditChain(sql: Sql, chainKeyBytes: Buffer): Promise<VerifyReport> {
  const chainKey = createSecretKey(chainKeyBytes);
  const head = (await sql.one<{ seq: string; hash: string; anchor_seq: string; anchor_hash: string }>(
    'SELECT seq, hash, anchor_seq, anchor_hash FROM audit_chain_head',
  ))!;
  const problems: string[] = [];
  let expectedSeq = Number(head.anchor_seq) + 1;
  let previousHash = head.anchor_hash;
  let checked = 0;
  for (;;) {
    const rows = (await sql.many<StoredRow>(`SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`, [expectedSeq, BATCH])).map(toRow);
    for (const row of rows) {
      if (row.seq > expectedSeq) {
        problems.push(row.seq - 1 === expectedSeq ? `row ${expectedSeq} was deleted` : `rows ${expectedSeq}–${row.seq - 1} were deleted`);
      }
      if (rowHash(chainKey, row) !== row.hash) problems.push(`row ${row.seq} was changed (its content does not match its hash)`);
      else if (row.prevHash !== previousHash && row.seq === expectedSeq) {
        problems.push(`row ${row.seq} does not follow row ${row.seq - 1} (rows reordered or replaced)`);
      }
      previousHash = row.hash;
      expectedSeq = row.seq + 1;
      checked += 1;
    }
    if (rows.length < BATCH) break;
  }
  const lastSeq = Number(head.seq);
  if (expectedSeq <= lastSeq) {
    problems.push(expectedSeq === lastSeq ? `row ${lastSeq} (the newest) was deleted` : `rows ${expectedSeq}–${lastSeq} (the newest) were deleted`);
  } else if (lastSeq > 0 && previousHash !== head.hash) {
    problems.push(`row ${lastSeq} (the newest) does not match the chain head`);
  }
  return { ok: problems.length === 0, checked, anchorSeq: Number(head.anchor_seq), problems };
}

/**
 * Deletes whole months of audit rows older than the retention, oldest first, and moves the anchor to the
 * last row removed, so the rest of the chain still verifies. A month that still has a row younger than the
 * retention is kept whole. The trigger refuses any row younger than 12 months whatever this is told.
 */
export async function pruneAuditTrail(db: Database, retentionMonths: number): Promise<{ deleted: number; anchorSeq: number }> {
  return db.transaction(async (tx) => {
    await tx.many('SELECT 1 FROM audit_chain_head FOR UPDATE');
    const last = await tx.one<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM audit_log
        WHERE at < date_trunc('month', now() - make_interval(months => $1)) ORDER BY seq DESC LIMIT 1`,
      [retentionMonths],
    );
    const head = (await tx.one<{ anchor_seq: string }>('SELECT anchor_seq FROM audit_chain_head'))!;
    if (!last) return { deleted: 0, anchorSeq: Number(head.anchor_seq) };
    await tx.many("SELECT set_config('kalos.audit_prune', 'on', true)");
    const deleted = await tx.many('DELETE FROM audit_log WHERE seq <= $1 RETURNING seq', [last.seq]);
    await tx.many("SELECT set_config('kalos.audit_prune', 'off', true)");
    await tx.many('UPDATE audit_chain_head SET anchor_seq = $1, anchor_hash = $2', [last.seq, last.hash]);
    return { deleted: deleted.length, anchorSeq: Number(last.seq) };
  });
}
