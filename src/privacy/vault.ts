import { createSecretKey, KeyObject, randomBytes } from 'node:crypto';
import type { Sql } from '../db/database';
import { newId } from '../shared/ids';
import { BlindIndex, MasterKeyring, openAesGcm, sealAesGcm } from './keyring';

interface DataKey {
  id: string;
  key: KeyObject;
}

/**
 * How long an unwrapped data key stays in this process's memory. Short, because an erasure on another
 * instance cannot reach this cache: every write of sealed values checks the key row anyway (see
 * `SealingKey`), so this bounds only how long key material of an erased subject lingers in memory.
 */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;

/**
 * A subject's data key, ready to seal the values of one write. The statement that stores them must
 * share-lock the key's row by `id` (`SELECT … FROM subject_keys WHERE id = … AND subject_hash = … FOR KEY
 * SHARE`) and write nothing when the row is gone: an erasure locks that row before anything else and
 * deletes it, so writes already holding the lock finish before the erasure looks, and later ones find the
 * row gone. Such a write calls `forget` and seals again, under a fresh subject's key. The lock lives only
 * as long as that one statement, so sealing needs no transaction of its own.
 */
export interface SealingKey {
  readonly id: string;
  /** `<data key id>.<sealed>`, bound to its column through the associated data. */
  seal(column: string, plaintext: string): string;
}

/**
 * Field-level encryption of personal data under a per-user data key (AES-256-GCM). Each ciphertext names
 * its data key (`<data key id>.<sealed>`) and is bound to its column through the associated data, so a
 * value copied into another column does not decrypt. Deleting a subject's key makes all their data
 * unreadable at once (crypto-shredding), which the erasure feature relies on.
 */
export class PersonalDataVault {
  private readonly cache = new Map<string, { dataKey: DataKey; expiresAt: number }>();

  constructor(
    private readonly keyring: MasterKeyring,
    readonly blindIndex: BlindIndex,
  ) {}

  userHash(userId: string): string {
    return this.blindIndex.hash('user', userId);
  }

  /**
   * The subject's key for sealing, created on first use. Cached: the write that stores the values checks
   * the row (see `SealingKey`). `sql` must not be a transaction: a key it created would be cached before it
   * committed. Concurrent first uses agree on one key through the unique index.
   */
  async sealingKey(sql: Sql, userHash: string): Promise<SealingKey> {
    const dataKey = (await this.existingDataKey(sql, userHash)) ?? (await this.createDataKey(sql, userHash));
    return { id: dataKey.id, seal: (column, plaintext) => `${dataKey.id}.${sealAesGcm(dataKey.key, Buffer.from(plaintext, 'utf8'), column)}` };
  }

  /** Drops a cached key whose row a write found gone (the subject was erased, possibly by another instance). */
  forget(userHash: string): void {
    this.cache.delete(userHash);
  }

  async decrypt(sql: Sql, userHash: string, column: string, ciphertext: string): Promise<string> {
    const [keyId, sealed] = ciphertext.split('.', 2);
    let dataKey = await this.existingDataKey(sql, userHash);
    // A cached key of an erased subject is not the key of their fresh subject: read the stored one.
    if (dataKey && dataKey.id !== keyId) dataKey = await this.existingDataKey(sql, userHash, { cached: false });
    if (!dataKey || dataKey.id !== keyId) throw new Error('The data key for this value is gone (erased or rotated away)');
    return openAesGcm(dataKey.key, sealed, column).toString('utf8');
  }

  /**
   * Crypto-shredding: deletes the subject's data key, so every value sealed under it is unreadable
   * wherever a copy lives (replicas, backups). Run inside the erasure's transaction, after `lockSubjectKey`.
   */
  async shred(tx: Sql, userHash: string): Promise<void> {
    await tx.many('DELETE FROM subject_keys WHERE subject_hash = $1', [userHash]);
    this.cache.delete(userHash);
  }

  /**
   * Locks the subject's key row until the transaction ends. Writes of sealed values share-lock the same row
   * (`SealingKey`), so an erasure waits for those already writing and those that follow find no key and
   * start a fresh subject.
   */
  async lockSubjectKey(tx: Sql, userHash: string): Promise<void> {
    await tx.many('SELECT id FROM subject_keys WHERE subject_hash = $1 FOR UPDATE', [userHash]);
  }

  private async createDataKey(sql: Sql, userHash: string): Promise<DataKey> {
    const key = randomBytes(32);
    const { masterKeyId, wrapped } = this.keyring.wrap(key, userHash);
    const created = await sql.one<{ id: string }>(
      `INSERT INTO subject_keys (id, subject_hash, master_key_id, wrapped_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subject_hash) DO NOTHING RETURNING id`,
      [newId('dk'), userHash, masterKeyId, wrapped],
    );
    if (created) return this.remember(userHash, { id: created.id, key: createSecretKey(key) });
    // Another request created it first (the insert waited for it to commit): read the committed key.
    const stored = await this.existingDataKey(sql, userHash, { cached: false });
    if (!stored) throw new Error('Subject key vanished right after it was created');
    return stored;
  }

  private remember(userHash: string, dataKey: DataKey): DataKey {
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(userHash, { dataKey, expiresAt: Date.now() + CACHE_TTL_MS });
    return dataKey;
  }

  /** The subject's key: from the cache, or the database (`cached: false` reads the row whatever the cache holds). */
  private async existingDataKey(sql: Sql, userHash: string, read = { cached: true }): Promise<DataKey | undefined> {
    const cached = this.cache.get(userHash);
    const fresh = cached && cached.expiresAt > Date.now() ? cached.dataKey : undefined;
    if (fresh && read.cached) return fresh;
    const row = await sql.one<{ id: string; master_key_id: string; wrapped_key: string }>(
      'SELECT id, master_key_id, wrapped_key FROM subject_keys WHERE subject_hash = $1',
      [userHash],
    );
    if (!row) return undefined;
    // The unwrapped key is reused when the stored row names the same key.
    if (fresh?.id === row.id) return fresh;
    return this.remember(userHash, { id: row.id, key: createSecretKey(this.keyring.unwrap(row.master_key_id, row.wrapped_key, userHash)) });
  }
}

/**
 * Master key ids that wrap stored data keys but are not configured. Checked at start-up: a gateway missing
 * one would start and then answer 500 for every user whose key it wraps, so it refuses to start instead.
 */
export async function unconfiguredMasterKeyIds(sql: Sql, keyring: MasterKeyring): Promise<string[]> {
  // A skip scan over the master_key_id index: one probe per distinct master key (a handful), however many
  // subjects there are, where DISTINCT would read every row at every start of every instance.
  const rows = await sql.many<{ master_key_id: string }>(
    `WITH RECURSIVE stored AS (
       (SELECT master_key_id FROM subject_keys ORDER BY master_key_id LIMIT 1)
       UNION ALL
       SELECT (SELECT later.master_key_id FROM subject_keys later WHERE later.master_key_id > stored.master_key_id ORDER BY later.master_key_id LIMIT 1)
         FROM stored WHERE stored.master_key_id IS NOT NULL)
     SELECT master_key_id FROM stored WHERE master_key_id IS NOT NULL AND master_key_id <> ALL($1::text[]) ORDER BY master_key_id`,
    [keyring.ids],
  );
  return rows.map((row) => row.master_key_id);
}
