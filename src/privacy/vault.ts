import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/database';
import { newId } from '../shared/ids';
import { BlindIndex, MasterKeyring, openAesGcm, sealAesGcm } from './keyring';

interface DataKey {
  id: string;
  key: Buffer;
}

/**
 * How long an unwrapped data key stays in this process's memory. Short, because an erasure on another
 * instance cannot reach this cache: the write path re-reads the key row on every use anyway (see
 * `dataKeyFor`), so this bounds only how long key material of an erased subject lingers in memory.
 */
const CACHE_TTL_MS = 60_000;
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
   * Keys a transaction created (not committed yet) or holds a share lock on, by transaction. New keys must
   * not enter the shared cache: if the transaction rolls back, the key never existed, and data sealed with
   * it later would be unreadable. A locked key cannot be erased before the transaction ends.
   */
  private readonly heldByTransaction = new WeakMap<Sql, Map<string, DataKey>>();

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
    const [keyId, sealed] = ciphertext.split('.', 2);
    let dataKey = await this.existingDataKey(sql, userHash);
    // A cached key of an erased subject is not the key of their fresh subject: read the stored one.
    if (dataKey && dataKey.id !== keyId) dataKey = await this.existingDataKey(sql, userHash, { cached: false, lock: false });
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
   * Locks the subject's key row until the transaction ends. A checkout seals under a key-share lock on the same
   * row (`dataKeyFor`), so an erasure waits for checkouts already sealing and those that follow wait for it,
   * then find no key and start a fresh subject.
   */
  async lockSubjectKey(tx: Sql, userHash: string): Promise<void> {
    await tx.many('SELECT id FROM subject_keys WHERE subject_hash = $1 FOR UPDATE', [userHash]);
  }

  /** Creates the subject's data key on first use; concurrent first uses agree on one key through the unique index. */
  private async dataKeyFor(tx: Sql, userHash: string): Promise<DataKey> {
    const existing = await this.existingDataKey(tx, userHash, { cached: false, lock: true });
    if (existing) return this.hold(tx, userHash, existing);
    const key = randomBytes(32);
    const { masterKeyId, wrapped } = this.keyring.wrap(key, userHash);
    const created = await tx.one<{ id: string }>(
      `INSERT INTO subject_keys (id, subject_hash, master_key_id, wrapped_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subject_hash) DO NOTHING RETURNING id`,
      [newId('dk'), userHash, masterKeyId, wrapped],
    );
    if (created) return this.hold(tx, userHash, { id: created.id, key });
    // Another transaction created it first (the insert waited for it to commit): read the committed key.
    const stored = await this.existingDataKey(tx, userHash, { cached: false, lock: true });
    if (!stored) throw new Error('Subject key vanished right after it was created');
    return this.hold(tx, userHash, stored);
  }

  private hold(tx: Sql, userHash: string, dataKey: DataKey): DataKey {
    const held = this.heldByTransaction.get(tx) ?? new Map<string, DataKey>();
    this.heldByTransaction.set(tx, held.set(userHash, dataKey));
    return dataKey;
  }

  /**
   * The subject's key: from this transaction's own new keys, the cache, or the database. Sealing reads the
   * row (`cached: false`, under a share lock): a cached key may belong to a subject erased meanwhile by
   * another instance, and data sealed under it would be unreadable from the start. The unwrapped key is
   * still reused from the cache when the stored row names the same key.
   */
  private async existingDataKey(sql: Sql, userHash: string, read = { cached: true, lock: false }): Promise<DataKey | undefined> {
    const held = this.heldByTransaction.get(sql)?.get(userHash);
    if (held) return held;
    const cached = this.cache.get(userHash);
    const fresh = cached && cached.expiresAt > Date.now() ? cached.dataKey : undefined;
    if (fresh && read.cached) return fresh;
    const row = await sql.one<{ id: string; master_key_id: string; wrapped_key: string }>(
      `SELECT id, master_key_id, wrapped_key FROM subject_keys WHERE subject_hash = $1${read.lock ? ' FOR KEY SHARE' : ''}`,
      [userHash],
    );
    if (!row) return undefined;
    if (fresh?.id === row.id) return fresh;
    const dataKey = { id: row.id, key: this.keyring.unwrap(row.master_key_id, row.wrapped_key, userHash) };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(userHash, { dataKey, expiresAt: Date.now() + CACHE_TTL_MS });
    return dataKey;
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
