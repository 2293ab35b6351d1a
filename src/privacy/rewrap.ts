import type { Database } from '../db/database';
import type { MasterKeyring } from './keyring';

export interface RewrapOutcome {
  rewrapped: number;
  /** Data keys still wrapped by another master key (another run's locked batch, or the batch limit was hit). */
  remaining: number;
}

interface WrappedKey {
  id: string;
  subject_hash: string;
  master_key_id: string;
  wrapped_key: string;
}

/**
 * Re-wraps one batch of data keys under the active master key, in one transaction. Only the wrapping
 * changes: the data key, its id and every ciphertext under it stay as they are. SKIP LOCKED lets two runs
 * (or a run and a checkout creating keys) proceed side by side.
 */
async function rewrapBatch(db: Database, keyring: MasterKeyring, batchSize: number): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = await tx.many<WrappedKey>(
      `SELECT id, subject_hash, master_key_id, wrapped_key FROM subject_keys
        WHERE master_key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [keyring.activeId, batchSize],
    );
    for (const row of rows) {
      const dataKey = keyring.unwrap(row.master_key_id, row.wrapped_key, row.subject_hash);
      const { masterKeyId, wrapped } = keyring.wrap(dataKey, row.subject_hash);
      await tx.many('UPDATE subject_keys SET master_key_id = $2, wrapped_key = $3 WHERE id = $1', [row.id, masterKeyId, wrapped]);
    }
    return rows.length;
  });
}

/**
 * Moves every subject's data key onto the active master key, batch by batch; each batch commits on its
 * own, so a run that stops part-way is simply run again. Once `remaining` is 0, the older master keys wrap
 * nothing and can be removed from ENCRYPTION_KEYS.
 */
export async function rewrapSubjectKeys(db: Database, keyring: MasterKeyring, options: { batchSize: number; maxBatches?: number }): Promise<RewrapOutcome> {
  let rewrapped = 0;
  for (let batch = 0; batch < (options.maxBatches ?? Infinity); batch++) {
    const done = await rewrapBatch(db, keyring, options.batchSize);
    rewrapped += done;
    if (done < options.batchSize) break;
  }
  const left = await db.one<{ n: string }>('SELECT count(*) AS n FROM subject_keys WHERE master_key_id <> $1', [keyring.activeId]);
  return { rewrapped, remaining: Number(left!.n) };
}

/** How many data keys each master key wraps, for `keys status`. */
export function dataKeysByMasterKey(db: Database): Promise<Array<{ master_key_id: string; data_keys: string }>> {
  return db.many('SELECT master_key_id, count(*) AS data_keys FROM subject_keys GROUP BY master_key_id ORDER BY master_key_id');
}
