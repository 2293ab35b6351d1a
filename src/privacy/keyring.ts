import { createCipheriv, createDecipheriv, createHmac, createSecretKey, KeyObject } from 'node:crypto';
import { pooledRandomBytes } from '../shared/random';

/**
 * Envelope encryption. Master keys (from configuration, never stored) wrap per-subject data keys; data keys
 * encrypt fields. Every wrapped key carries its master key id, so a new master key can be introduced first
 * in ENCRYPTION_KEYS (it becomes active) while older ones still unwrap existing data keys.
 */
export interface MasterKey {
  id: string;
  key: Buffer;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/*
 * Keys used again and again are held as KeyObjects, never as Buffers: Node 24 checks a Buffer key against
 * the KeyObject and CryptoKey brands by catching exceptions, about 18 µs per createHmac or createCipheriv
 * call (a KeyObject takes the quick path), which was a sixth of a checkout's CPU.
 */

export function sealAesGcm(key: KeyObject, plaintext: Buffer, aad: string): string {
  const iv = pooledRandomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

export function openAesGcm(key: KeyObject, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

export class MasterKeyring {
  private readonly byId: Map<string, KeyObject>;

  constructor(private readonly keys: MasterKey[]) {
    if (keys.length === 0) throw new Error('At least one master key is required');
    this.byId = new Map(keys.map((k) => [k.id, createSecretKey(k.key)]));
  }

  get activeId(): string {
    return this.keys[0].id;
  }

  /** Every configured master key id, the active one first. */
  get ids(): string[] {
    return this.keys.map((k) => k.id);
  }

  wrap(dataKey: Buffer, subjectHash: string): { masterKeyId: string; wrapped: string } {
    return { masterKeyId: this.activeId, wrapped: sealAesGcm(this.byId.get(this.activeId)!, dataKey, `subject-key:${subjectHash}`) };
  }

  unwrap(masterKeyId: string, wrapped: string, subjectHash: string): Buffer {
    const key = this.byId.get(masterKeyId);
    if (!key) throw new Error(`Master key ${masterKeyId} is not configured; add it to ENCRYPTION_KEYS`);
    return openAesGcm(key, wrapped, `subject-key:${subjectHash}`);
  }
}

/** Parses `id:base64key,id2:base64key` (first = active). Throws a message naming the problem, never the key. */
export function parseMasterKeys(text: string): MasterKey[] {
  const keys = text.split(',').map((entry, index) => {
    const [id, encoded, ...rest] = entry.trim().split(':');
    if (!id || !encoded || rest.length > 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      throw new Error(`entry ${index + 1} must be <key id>:<base64 of 32 random bytes>`);
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must decode to exactly 32 bytes (got ${key.length})`);
    return { id, key };
  });
  // Wrapped data keys name their master key by id: two keys under one id would leave it unclear which one
  // unwraps them, and which is active.
  const repeated = keys.find((key, index) => keys.findIndex((other) => other.id === key.id) !== index);
  if (repeated) throw new Error(`key id "${repeated.id}" appears more than once; give each key its own id`);
  return keys;
}

export type BlindIndexPurpose = 'user' | 'device' | 'ip' | 'idempotency_key' | 'idempotency_request' | 'step_up_token' | 'risk_attempt';

/** Keyed blind index: finds rows by a personal value without storing or comparing the value itself. */
export class BlindIndex {
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error('The blind index key must be at least 32 bytes');
    this.key = createSecretKey(key);
  }

  /** Every stored hash of client input goes through here: keyed, so a guessable input (a card number sent as an Idempotency-Key) cannot be found by hashing guesses. */
  hash(purpose: BlindIndexPurpose, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\u0000${value}`).digest('base64url');
  }

  /**
   * A 256-bit key for one named use (e.g. `risk-location-v1`), so a feature gets its own key without new
   * configuration. A label has no NUL, so no derived key equals a blind index value, which is stored.
   */
  deriveKey(label: string): Buffer {
    if (label.includes('\u0000')) throw new Error('A key label has no NUL character');
    return createHmac('sha256', this.key).update(label).digest();
  }
}
