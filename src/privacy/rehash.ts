import type { Database, Sql } from '../db/database';
import { BlindIndex, MasterKeyring } from './keyring';
import type { PersonalDataVault } from './vault';

export interface RehashOutcome {
  /** Subjects whose hashes (and data key wrapping) moved to the new key in this run. */
  rehashed: number;
  /** Subjects found already under the new key: an earlier, interrupted run did them. */
  alreadyDone: number;
  /** Subject keys with no readable payment left (all anonymised): nothing to re-key them by. */
  unreadable: number;
  /** Rows removed because their hash cannot be recomputed: the value was never stored. */
  idempotencyKeysDeleted: number;
  blocklistEntriesDeleted: number;
}

interface SubjectRow {
  id: string;
  subject_hash: string;
  master_key_id: string;
  wrapped_key: string;
}

interface SealedPayment {
  id: string;
  user_id_enc: string;
  device_enc: string;
}

export interface RehashDeps {
  db: Database;
  /** The vault under the old blind-index key: it finds each data key by the hash stored today. */
  vault: PersonalDataVault;
  keyring: MasterKeyring;
  from: BlindIndex;
  to: BlindIndex;
}

/**
 * Moves one subject onto the new blind-index key, in one transaction: the subject's data key is re-wrapped
 * with the new hash as its associated data, and every payment gets the new user and device hashes, computed
 * from the sealed user id and device (the only place the values exist).
 */
async function rehashSubject(tx: Sql, deps: RehashDeps, subject: SubjectRow): Promise<'rehashed' | 'done' | 'unreadable'> {
  const { keyring, from, to, vault } = deps;
  const payments = await tx.many<SealedPayment>(
    `SELECT id, user_id_enc, device_enc FROM payments WHERE user_hash = $1 AND user_id_enc <> '' ORDER BY id FOR UPDATE`,
    [subject.subject_hash],
  );
  if (payments.length === 0) return 'unreadable';
  const userId = await vault.decrypt(tx, subject.subject_hash, 'payments.user_id', payments[0].user_id_enc);
  const newHash = to.hash('user', userId);
  if (subject.subject_hash === newHash) return 'done';
  if (subject.subject_hash !== from.hash('user', userId)) throw new Error(`subject key ${subject.id} is under neither blind-index key`);
  const dataKey = keyring.unwrap(subject.master_key_id, subject.wrapped_key, subject.subject_hash);
  const { masterKeyId, wrapped } = keyring.wrap(dataKey, newHash);
  await tx.many('UPDATE subject_keys SET subject_hash = $2, master_key_id = $3, wrapped_key = $4 WHERE id = $1', [subject.id, newHash, masterKeyId, wrapped]);
  for (const payment of payments) {
    const device = JSON.parse(await vault.decrypt(tx, subject.subject_hash, 'payments.device', payment.device_enc)) as { id: string };
    await tx.many('UPDATE payments SET user_hash = $2, device_hash = $3 WHERE id = $1', [payment.id, newHash, to.hash('device', device.id)]);
  }
  // Consents and open rights requests follow the subject; a request's own keyed reference does not (see docs).
  await tx.many('UPDATE consent_events SET subject_hash = $2 WHERE subject_hash = $1', [subject.subject_hash, newHash]);
  await tx.many('UPDATE rights_requests SET subject_hash = $2 WHERE subject_hash = $1', [subject.subject_hash, newHash]);
  return 'rehashed';
}

/**
 * Re-keys the blind index from `from` to `to` (docs/data-lifecycle.md, with the gateways stopped). Each
 * subject commits on its own and is recognised afterwards by which key its hash matches, so an interrupted
 * run is run again. What cannot be recomputed is deleted at the end: idempotency keys and blocklist
 * entries by hash (the blocklist is re-entered from its source).
 */
export async function rehashBlindIndex(deps: RehashDeps): Promise<RehashOutcome> {
  const { db } = deps;
  const counts = { rehashed: 0, done: 0, unreadable: 0 };
  const subjects = await db.many<{ id: string }>('SELECT id FROM subject_keys ORDER BY id');
  for (const { id } of subjects) {
    const outcome = await db.transaction(async (tx) => {
      const subject = await tx.one<SubjectRow>('SELECT id, subject_hash, master_key_id, wrapped_key FROM subject_keys WHERE id = $1 FOR UPDATE', [id]);
      return subject ? rehashSubject(tx, deps, subject) : 'unreadable';
    });
    counts[outcome] += 1;
  }
  const idempotency = await db.many('DELETE FROM idempotency_keys RETURNING 1');
  const blocklist = await db.many('DELETE FROM risk_blocklist WHERE value_hash IS NOT NULL RETURNING 1');
  return {
    rehashed: counts.rehashed,
    alreadyDone: counts.done,
    unreadable: counts.unreadable,
    idempotencyKeysDeleted: idempotency.length,
    blocklistEntriesDeleted: blocklist.length,
  };
}
