import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connectDatabase, DatabaseHandle } from '../../src/db/connect';
import { BlindIndex, MasterKey, MasterKeyring } from '../../src/privacy/keyring';
import { PersonalDataVault } from '../../src/privacy/vault';
import { createTestDatabase, dropTestDatabase } from '../support/databases';

/**
 * The vault against a real database: PostgreSQL when TEST_DATABASE_URL is set, else the embedded one.
 * Each test uses subjects of its own, so the tests share one database.
 */
const keyA: MasterKey = { id: 'a', key: randomBytes(32) };
const keyB: MasterKey = { id: 'b', key: randomBytes(32) };
const blindIndex = new BlindIndex(randomBytes(32));

let dataDir: string;
let databaseUrl: string | undefined;
let handle: DatabaseHandle;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-vault-'));
  databaseUrl = await createTestDatabase();
  handle = await connectDatabase({ url: databaseUrl, dataDir, poolSize: 4, migrate: true });
});

afterAll(async () => {
  await handle?.close();
  await dropTestDatabase(databaseUrl);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const vaultWith = (...masterKeys: MasterKey[]) => new PersonalDataVault(new MasterKeyring(masterKeys), blindIndex);
const seal = async (vault: PersonalDataVault, subject: string, column: string, value: string) =>
  (await vault.sealingKey(handle.db, subject)).seal(column, value);

let subjects = 0;
const newSubject = () => blindIndex.hash('user', `user_${process.pid}_${++subjects}_${randomBytes(4).toString('hex')}`);

async function keyRows(subjectHash: string) {
  return handle.db.many<{ id: string; master_key_id: string }>('SELECT id, master_key_id FROM subject_keys WHERE subject_hash = $1', [
    subjectHash,
  ]);
}

describe('the personal data vault', () => {
  test('decrypts what it encrypted, in this and in a fresh instance, with no trace of the value in the ciphertext', async () => {
    const vault = vaultWith(keyA);
    const subject = newSubject();
    const ciphertext = await seal(vault, subject, 'payments.device_enc', 'dev_4f1c2a');
    const [row] = await keyRows(subject);

    expect(ciphertext.startsWith(`${row.id}.`)).toBe(true);
    expect(ciphertext).not.toContain('dev_4f1c2a');
    expect(row.master_key_id).toBe('a');
    expect(await vault.decrypt(handle.db, subject, 'payments.device_enc', ciphertext)).toBe('dev_4f1c2a');
    expect(await vaultWith(keyA).decrypt(handle.db, subject, 'payments.device_enc', ciphertext)).toBe('dev_4f1c2a');
  });

  test('uses one data key per subject across values', async () => {
    const vault = vaultWith(keyA);
    const subject = newSubject();
    await seal(vault, subject, 'payments.device_enc', 'one');
    await seal(vault, subject, 'payments.ip_enc', 'two');

    expect(await keyRows(subject)).toHaveLength(1);
  });

  test('refuses a value copied into another column', async () => {
    const vault = vaultWith(keyA);
    const subject = newSubject();
    const ciphertext = await seal(vault, subject, 'payments.device_enc', 'dev_4f1c2a');

    await expect(vault.decrypt(handle.db, subject, 'payments.ip_enc', ciphertext)).rejects.toThrow();
  });

  test("refuses another subject's value", async () => {
    const vault = vaultWith(keyA);
    const owner = newSubject();
    const other = newSubject();
    const ciphertext = await seal(vault, owner, 'payments.device_enc', 'dev_4f1c2a');
    await seal(vault, other, 'payments.device_enc', 'something else');

    await expect(vault.decrypt(handle.db, other, 'payments.device_enc', ciphertext)).rejects.toThrow('data key for this value is gone');
  });

  test('concurrent first uses of one subject, even from separate instances, agree on one key row', async () => {
    const subject = newSubject();
    const vaults = [vaultWith(keyA), vaultWith(keyA), vaultWith(keyA), vaultWith(keyA)];
    const ciphertexts = await Promise.all(
      vaults.map((vault, index) => seal(vault, subject, 'payments.device_enc', `value ${index}`)),
    );

    expect(await keyRows(subject)).toHaveLength(1);
    const reader = vaultWith(keyA);
    for (const [index, ciphertext] of ciphertexts.entries()) {
      expect(await reader.decrypt(handle.db, subject, 'payments.device_enc', ciphertext)).toBe(`value ${index}`);
    }
  });

  test('after a master key rotation reads old values, and wraps new subjects under the new key', async () => {
    const oldSubject = newSubject();
    const ciphertext = await seal(vaultWith(keyA), oldSubject, 'payments.device_enc', 'before rotation');
    const rotated = vaultWith(keyB, keyA);

    expect(await rotated.decrypt(handle.db, oldSubject, 'payments.device_enc', ciphertext)).toBe('before rotation');

    const newSubjectHash = newSubject();
    await seal(rotated, newSubjectHash, 'payments.device_enc', 'after rotation');
    expect((await keyRows(newSubjectHash))[0].master_key_id).toBe('b');
  });

  test('names the missing master key when ENCRYPTION_KEYS dropped it too early', async () => {
    const subject = newSubject();
    const ciphertext = await seal(vaultWith(keyA), subject, 'payments.device_enc', 'dev_4f1c2a');

    await expect(vaultWith(keyB).decrypt(handle.db, subject, 'payments.device_enc', ciphertext)).rejects.toThrow(
      'Master key a is not configured; add it to ENCRYPTION_KEYS',
    );
  });

  test("makes a subject's values unreadable once its key row is deleted (crypto-shredding)", async () => {
    const subject = newSubject();
    const ciphertext = await seal(vaultWith(keyA), subject, 'payments.device_enc', 'dev_4f1c2a');
    await handle.db.many('DELETE FROM subject_keys WHERE subject_hash = $1', [subject]);

    await expect(vaultWith(keyA).decrypt(handle.db, subject, 'payments.device_enc', ciphertext)).rejects.toThrow(
      'The data key for this value is gone',
    );
  });

  test('a cached key whose row is gone (an erasure on another instance) gives way to a fresh key once forgotten', async () => {
    const vault = vaultWith(keyA);
    const subject = newSubject();
    const before = await vault.sealingKey(handle.db, subject);
    const erased = before.seal('payments.device_enc', 'before the erasure');
    await handle.db.many('DELETE FROM subject_keys WHERE subject_hash = $1', [subject]);

    vault.forget(subject);
    const after = await vault.sealingKey(handle.db, subject);

    expect(after.id).not.toBe(before.id);
    expect((await keyRows(subject)).map((row) => row.id)).toEqual([after.id]);
    expect(await vault.decrypt(handle.db, subject, 'payments.device_enc', after.seal('payments.device_enc', 'fresh'))).toBe('fresh');
    await expect(vault.decrypt(handle.db, subject, 'payments.device_enc', erased)).rejects.toThrow('The data key for this value is gone');
  });
});
