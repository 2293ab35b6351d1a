import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Config } from './index';
import { ConfigError } from './settings';
import { MasterKey, parseMasterKeys } from '../privacy/keyring';

/**
 * Keys the gateway needs at run time. They come from configuration; only on a laptop (and in production
 * only with ALLOW_GENERATED_KEYS=true) are missing ones generated once into DATA_DIR/secrets.json (mode 0600),
 * so the embedded quick start works with no setup and keeps its data readable across restarts.
 */
export interface KeyMaterial {
  masterKeys: MasterKey[];
  blindIndexKey: Buffer;
  sandboxWebhookSecret?: string;
  /** The embedded identity: a key pair the token CLI signs with. Undefined when tokens come from a real issuer. */
  embeddedJwt?: { privateKeyPem: string; publicKeyPem: string };
}

interface GeneratedSecrets {
  encryptionKeys: string;
  blindIndexKey: string;
  sandboxWebhookSecret: string;
  jwtPrivateKeyPem: string;
  jwtPublicKeyPem: string;
}

export function secretsFile(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

function generateSecrets(): GeneratedSecrets {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    encryptionKeys: `local1:${randomBytes(32).toString('base64')}`,
    blindIndexKey: randomBytes(32).toString('base64'),
    sandboxWebhookSecret: `sbx_${randomBytes(24).toString('base64url')}`,
    jwtPrivateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Reads DATA_DIR/secrets.json, creating it on first start. `wx` makes two processes starting together agree on one file. */
export function loadOrCreateGeneratedSecrets(dataDir: string): GeneratedSecrets {
  const file = secretsFile(dataDir);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, JSON.stringify(generateSecrets(), null, 2), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as GeneratedSecrets;
}

function decodeBlindIndexKey(text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length < 32) throw new Error(`must decode to at least 32 bytes (got ${key.length})`);
  return key;
}

export function resolveKeyMaterial(config: Config): KeyMaterial {
  const needsGenerated =
    !config.keys.encryptionKeys ||
    !config.keys.blindIndexKey ||
    (!config.auth.jwksUrl && !config.auth.publicKey) ||
    (config.sandbox.enabled && !config.sandbox.webhookSecret);
  const generated = needsGenerated && config.keys.generatedAllowed ? loadOrCreateGeneratedSecrets(config.dataDir) : undefined;

  const issues: { setting: string; message: string }[] = [];
  const attempt = <T>(setting: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      issues.push({ setting, message: (error as Error).message });
      return undefined;
    }
  };
  const masterKeys = attempt('ENCRYPTION_KEYS', () => parseMasterKeys(config.keys.encryptionKeys ?? generated!.encryptionKeys));
  const blindIndexKey = attempt('BLIND_INDEX_KEY', () => decodeBlindIndexKey(config.keys.blindIndexKey ?? generated!.blindIndexKey));
  if (issues.length > 0 || !masterKeys || !blindIndexKey) throw new ConfigError(issues);

  const usesEmbeddedIssuer = !config.auth.jwksUrl && !config.auth.publicKey;
  return {
    masterKeys,
    blindIndexKey,
    sandboxWebhookSecret: config.sandbox.enabled ? (config.sandbox.webhookSecret ?? generated?.sandboxWebhookSecret) : undefined,
    embeddedJwt:
      usesEmbeddedIssuer && generated
        ? { privateKeyPem: generated.jwtPrivateKeyPem, publicKeyPem: generated.jwtPublicKeyPem }
        : undefined,
  };
}
