import { createDecipheriv, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { BlindIndex, MasterKey, MasterKeyring, openAesGcm, parseMasterKeys, sealAesGcm } from '../../src/privacy/keyring';

const masterKey = (id: string): MasterKey => ({ id, key: randomBytes(32) });

/** Flips one bit of the byte at `index` of a base64url sealed value. */
function flipByte(sealed: string, index: number): string {
  const raw = Buffer.from(sealed, 'base64url');
  raw[index] ^= 0x01;
  return raw.toString('base64url');
}

describe('AES-256-GCM sealing', () => {
  const keyBytes = randomBytes(32);
  const key = createSecretKey(keyBytes);
  const plaintext = Buffer.from('device dev_4f1c2a, 北京', 'utf8');

  test('writes iv, tag and ciphertext as before keys were KeyObjects, so stored values stay readable', () => {
    const raw = Buffer.from(sealAesGcm(key, plaintext, 'col'), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyBytes, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from('col', 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));

    expect(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).equals(plaintext)).toBe(true);
  });

  test('opens what it sealed with the same key and associated data', () => {
    const sealed = sealAesGcm(key, plaintext, 'payments.device_enc');

    expect(openAesGcm(key, sealed, 'payments.device_enc').equals(plaintext)).toBe(true);
    expect(Buffer.from(sealed, 'base64url').includes(plaintext)).toBe(false);
  });

  test('seals the same plaintext differently every time', () => {
    expect(sealAesGcm(key, plaintext, 'col')).not.toBe(sealAesGcm(key, plaintext, 'col'));
  });

  test('refuses a tampered iv, tag or ciphertext', () => {
    const sealed = sealAesGcm(key, plaintext, 'col');
    const length = Buffer.from(sealed, 'base64url').length;

    for (const index of [0, 12, 28, length - 1]) {
      expect(() => openAesGcm(key, flipByte(sealed, index), 'col')).toThrow();
    }
  });

  test('refuses a value moved to another column (different associated data)', () => {
    const sealed = sealAesGcm(key, plaintext, 'payments.device_enc');

    expect(() => openAesGcm(key, sealed, 'payments.ip_enc')).toThrow();
  });

  test('refuses the wrong key', () => {
    const sealed = sealAesGcm(key, plaintext, 'col');

    expect(() => openAesGcm(createSecretKey(randomBytes(32)), sealed, 'col')).toThrow();
  });
});

describe('the master keyring', () => {
  const keyA = masterKey('a');
  const keyB = masterKey('b');
  const dataKey = randomBytes(32);

  test('unwraps a data key it wrapped, bound to its subject', () => {
    const ring = new MasterKeyring([keyA]);
    const { masterKeyId, wrapped } = ring.wrap(dataKey, 'subject-1');

    expect(masterKeyId).toBe('a');
    expect(ring.unwrap(masterKeyId, wrapped, 'subject-1').equals(dataKey)).toBe(true);
    expect(() => ring.unwrap(masterKeyId, wrapped, 'subject-2')).toThrow();
  });

  test('after rotation still unwraps data keys wrapped under the old key, and wraps new ones under the new key', () => {
    const before = new MasterKeyring([keyA]).wrap(dataKey, 'subject-1');
    const rotated = new MasterKeyring([keyB, keyA]);

    expect(rotated.activeId).toBe('b');
    expect(rotated.unwrap(before.masterKeyId, before.wrapped, 'subject-1').equals(dataKey)).toBe(true);

    const after = rotated.wrap(dataKey, 'subject-1');
    expect(after.masterKeyId).toBe('b');
    expect(new MasterKeyring([keyB]).unwrap('b', after.wrapped, 'subject-1').equals(dataKey)).toBe(true);
  });

  test('names the missing master key id and where to add it', () => {
    const wrapped = new MasterKeyring([keyA]).wrap(dataKey, 'subject-1');

    expect(() => new MasterKeyring([keyB]).unwrap(wrapped.masterKeyId, wrapped.wrapped, 'subject-1')).toThrow(
      'Master key a is not configured; add it to ENCRYPTION_KEYS',
    );
  });

  test('refuses to exist without a master key', () => {
    expect(() => new MasterKeyring([])).toThrow('At least one master key is required');
  });

  test('reads ENCRYPTION_KEYS in order, trimming spaces, first one active', () => {
    const text = ` b:${keyB.key.toString('base64')} , a:${keyA.key.toString('base64')}`;
    const keys = parseMasterKeys(text);

    expect(keys.map((key) => key.id)).toEqual(['b', 'a']);
    expect(keys[0].key.equals(keyB.key)).toBe(true);
    expect(new MasterKeyring(keys).activeId).toBe('b');
  });

  test('refuses ENCRYPTION_KEYS that name one id twice', () => {
    const text = `a:${keyA.key.toString('base64')},a:${keyB.key.toString('base64')}`;

    expect(() => parseMasterKeys(text)).toThrow('key id "a" appears more than once; give each key its own id');
  });
});

describe('the blind index', () => {
  const index = new BlindIndex(randomBytes(32));

  test('is HMAC-SHA256 of purpose, NUL and value, base64url: the stored indexes keep matching', () => {
    const key = Buffer.alloc(32, 7);

    expect(new BlindIndex(key).hash('user', 'user_123')).toBe(createHmac('sha256', key).update('user\u0000user_123').digest('base64url'));
  });

  test('is deterministic for one purpose and value', () => {
    expect(index.hash('user', 'user_123')).toBe(index.hash('user', 'user_123'));
  });

  test('differs across purposes, values and keys', () => {
    const hashes = new Set([
      index.hash('user', 'user_123'),
      index.hash('device', 'user_123'),
      index.hash('ip', 'user_123'),
      index.hash('user', 'user_124'),
      new BlindIndex(randomBytes(32)).hash('user', 'user_123'),
    ]);

    expect(hashes.size).toBe(5);
  });

  test('does not contain the value it indexes', () => {
    expect(index.hash('ip', '203.0.113.7')).not.toContain('203.0.113.7');
  });

  test('refuses a key shorter than 32 bytes', () => {
    expect(() => new BlindIndex(randomBytes(16))).toThrow('at least 32 bytes');
  });
});
