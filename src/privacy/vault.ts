import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/database';
import { newId } from '../shared/ids';
import { BlindIndex, MasterKeyring, openAesGcm, sealAesGcm } from './keyring';

interface DataKey {
  id: string;
  key: Buffer;
}

const CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX = 10_000;

/**
 * Field-level encryption of personal data under a per-user data key (AES-256-GCM). Each ciphertext names
 * its data key (`<data key id>.<sealed>`) and is bound to its column through the associated data, so a
 * value copied into another column does not decrypt. Deleting a subject's key makes all their data
 * unreadable at once (crypto-shredding), which the erasure feature relies on.
 */
export class PersonalDataVault {
  private readonly cache = new Map<string, { dataKey: DataKey; expiresAt: number }>();
  /**
   * Keys created inside a transaction that has not committed yet, by transaction. They must not enter the
   * shared cache: if the transaction rolls back, the key never existed, and data sealed with it later would
   * be unreadable.
   */
  private readonly uncommitted = new WeakMap<Sql, Map<string, DataKey>>();

  constructor(
    private readonly keyring: MasterKeyring,
    readonly blindIndex: BlindIndex,
  ) {}

  userHash(userId: string): string {
    return this.blindIndex.hash('user', userId);
  }

  async encrypt(tx: Sql, userHash: string, column: string, plaintext: string): Promise<string> {
    const dataKey = await this.dataKeyFor(tx, userHash);
    return `${dataKey.id}.${sealAesGcm(dataKey.key, Buffer.from(plaintext, 'utf8'), column)}`;
  }

  async decrypt(sql: Sql, userHash: string, column: string, ciphertext: string): Promise<string> {
    const dataKey = await this.existingDataKey(sql, userHash);
    const [keyId, sealed] = ciphertext.split('.', 2);
    if (!dataKey || dataKey.id !== keyId) throw new Error('The data key for this value is gone (erased or rotated away)');
    return openAesGcm(dataKey.key, sealed, column).toString('utf8');
  }

  /** Creates the subject's data key on first use; concurrent first uses agree on one key through the unique index. */
  private async dataKeyFor(tx: Sql, userHash: string): Promise<DataKey> {
    const existing = await this.existingDataKey(tx, userHash);
    if (existing) return existing;
    const key = randomBytes(32);
    const { masterKeyId, wrapped } = this.keyring.wrap(key, userHash);
    const created = await tx.one<{ id: string }>(
      `INSERT INTO subject_keys (id, subject_hash, master_key_id, wrapped_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subject_hash) DO NOTHING RETURNING id`,
      [newId('dk'), userHash, masterKeyId, wrapped],
    );
    if (created) {
      const dataKey = { id: created.id, key };
      const pending = this.uncommitted.get(tx) ?? new Map<string, DataKey>();
      this.uncommitted.set(tx, pending.set(userHash, dataKey));
      // Once committed the key is everyone's: caching it spares the next checkout of this user a read.
      tx.afterCommit?.(() => {
        pending.delete(userHash);
        this.remember(userHash, dataKey);
      });
      return dataKey;
    }
    // Another transaction created it first (the insert waited for it to commit): read the committed key.
    const stored = await this.existingDataKey(tx, userHash);
    if (!stored) throw new Error('Subject key vanished right after it was created');
    return stored;
  }

  private async existingDataKey(sql: Sql, userHash: string): Promise<DataKey | undefined> {
    const ownUncommitted = this.uncommitted.get(sql)?.get(userHash);
    if (ownUncommitted) return ownUncommitted;
    const cached = this.cache.get(userHash);
    if (cached && cached.expiresAt > Date.now()) return cached.dataKey;
    const row = await sql.one<{ id: string; master_key_id: string; wrapped_key: string }>(
      'SELECT id, master_key_id, wrapped_key FROM subject_keys WHERE subject_hash = $1',
      [userHash],
    );
    if (!row) return undefined;
    const dataKey = { id: row.id, key: this.keyring.unwrap(row.master_key_id, row.wrapped_key, userHash) };
    this.remember(userHash, dataKey);
    return dataKey;
  }

  private remember(userHash: string, dataKey: DataKey): void {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(userHash, { dataKey, expiresAt: Date.now() + CACHE_TTL_MS });
  }
}

/**
 * Master key ids that wrap stored data keys but are not configured. Checked at start-up: a gateway missing
 * one would start and then answer 500 for every user whose key it wraps, so it refuses to start instead.
 */
export async function unconfiguredMasterKeyIds(sql: Sql, keyring: MasterKeyring): Promise<string[]> {
  const rows = await sql.many<{ master_key_id: string }>(
    'SELECT DISTINCT master_key_id FROM subject_keys WHERE master_key_id <> ALL($1::text[]) ORDER BY master_key_id',
    [keyring.ids],
  );
  return rows.map((row) => row.master_key_id);
}
