import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, Env, loadConfig } from '../../src/config';
import { resolveKeyMaterial, secretsFile } from '../../src/config/key-material';

const KEY_A = Buffer.alloc(32, 0xa1).toString('base64');
const KEY_B = Buffer.alloc(32, 0xb2).toString('base64');
const BLIND_INDEX_KEY = Buffer.alloc(32, 0x5e).toString('base64');

let dataDir: string;

beforeEach(() => {
  dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-keys-')), 'data');
});

afterEach(() => {
  fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
});

function keyMaterialFor(env: Env) {
  return resolveKeyMaterial(loadConfig({ DATA_DIR: dataDir, ...env }));
}

function configErrorFor(env: Env): ConfigError {
  try {
    keyMaterialFor(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected resolveKeyMaterial to refuse the keys');
}

describe('ENCRYPTION_KEYS', () => {
  test('lists master keys in order, the first one active', () => {
    const material = keyMaterialFor({ ENCRYPTION_KEYS: `new:${KEY_B}, old:${KEY_A}`, BLIND_INDEX_KEY });

    expect(material.masterKeys.map((key) => key.id)).toEqual(['new', 'old']);
    expect(material.masterKeys[0].key.equals(Buffer.from(KEY_B, 'base64'))).toBe(true);
    expect(material.blindIndexKey.equals(Buffer.from(BLIND_INDEX_KEY, 'base64'))).toBe(true);
  });

  test.each([
    ['a key without an id', KEY_A],
    ['an id without a key', 'k1:'],
    ['an id with forbidden characters', `key one:${KEY_A}`],
    ['an entry with an extra colon', `k1:${KEY_A}:extra`],
    ['a 16-byte key', `k1:${Buffer.alloc(16, 0xc3).toString('base64')}`],
    ['a 33-byte key', `k1:${Buffer.alloc(33, 0xc3).toString('base64')}`],
    ['a malformed second entry', `k1:${KEY_A},k2:${Buffer.alloc(8, 0xc3).toString('base64')}`],
  ])('%s is refused naming ENCRYPTION_KEYS without echoing the key', (_case, encryptionKeys) => {
    const error = configErrorFor({ ENCRYPTION_KEYS: encryptionKeys, BLIND_INDEX_KEY });

    expect(error.issues.map((issue) => issue.setting)).toEqual(['ENCRYPTION_KEYS']);
    for (const [, encoded] of encryptionKeys.split(',').map((entry) => entry.split(':'))) {
      if (encoded) expect(error.message).not.toContain(encoded);
    }
    expect(error.message).not.toContain(KEY_A);
  });

  test('a short BLIND_INDEX_KEY is refused naming it, together with a bad ENCRYPTION_KEYS', () => {
    const shortKey = Buffer.alloc(16, 0x11).toString('base64');
    const error = configErrorFor({ ENCRYPTION_KEYS: 'nonsense', BLIND_INDEX_KEY: shortKey });

    expect(error.issues.map((issue) => issue.setting)).toEqual(['ENCRYPTION_KEYS', 'BLIND_INDEX_KEY']);
    expect(error.message).not.toContain(shortKey);
  });
});

describe('generated secrets on a laptop', () => {
  test('are created once in DATA_DIR with mode 0600 and reused on the next start', () => {
    const first = keyMaterialFor({});
    const file = secretsFile(dataDir);
    const written = fs.readFileSync(file, 'utf8');

    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dataDir).mode & 0o077).toBe(0);
    expect(first.masterKeys).toHaveLength(1);
    expect(first.masterKeys[0].key).toHaveLength(32);
    expect(first.sandboxWebhookSecret).toEqual(expect.any(String));
    expect(first.embeddedJwt?.publicKeyPem).toContain('BEGIN PUBLIC KEY');

    const second = keyMaterialFor({});

    expect(fs.readFileSync(file, 'utf8')).toBe(written);
    expect(second).toEqual(first);
  });

  test('fill in only what is not configured', () => {
    const material = keyMaterialFor({ ENCRYPTION_KEYS: `k1:${KEY_A}`, SANDBOX_WEBHOOK_SECRET: 'configured-sandbox-secret' });
    const generated = JSON.parse(fs.readFileSync(secretsFile(dataDir), 'utf8'));

    expect(material.masterKeys.map((key) => key.id)).toEqual(['k1']);
    expect(material.sandboxWebhookSecret).toBe('configured-sandbox-secret');
    expect(material.blindIndexKey.toString('base64')).toBe(generated.blindIndexKey);
  });

  test('are not written when every key is configured', () => {
    const material = keyMaterialFor({
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://pay.example.com',
      DATABASE_URL: 'postgres://app@db.internal/pay',
      ENCRYPTION_KEYS: `k1:${KEY_A}`,
      BLIND_INDEX_KEY,
      APP_JWKS_URL: 'https://id.example.com/jwks.json',
      APP_JWT_ISSUER: 'https://id.example.com/',
    });

    expect(fs.existsSync(dataDir)).toBe(false);
    expect(material.embeddedJwt).toBeUndefined();
    expect(material.sandboxWebhookSecret).toBeUndefined();
  });

  test('are used in production only when ALLOW_GENERATED_KEYS=true', () => {
    const material = keyMaterialFor({
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://pay.example.com',
      ALLOW_EMBEDDED_DATABASE: 'true',
      ALLOW_GENERATED_KEYS: 'true',
    });

    expect(fs.existsSync(secretsFile(dataDir))).toBe(true);
    expect(material.embeddedJwt).toBeDefined();
    expect(material.sandboxWebhookSecret).toBeUndefined();
  });
});
