import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGateway } from '../../src/app/context';
import { unconfiguredMasterKeyIds } from '../../src/privacy/vault';
import { ConfigError, loadConfig } from '../../src/config';
import { createTestDatabase, dropTestDatabase } from '../support/databases';
import { seedEmbeddedDatabase } from '../support/embedded-template';
import { checkout, startTestGateway } from '../support/gateway';

const masterKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('master keys at start-up', () => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  /** One database and one DATA_DIR (so one blind-index key) for every gateway of a test, started one after another. */
  const env = (encryptionKeys: string) => ({
    DATA_DIR: dataDir,
    ENCRYPTION_KEYS: encryptionKeys,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });

  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-keys-'));
    databaseUrl = await createTestDatabase();
    if (!databaseUrl) seedEmbeddedDatabase(dataDir);
  });
  afterEach(async () => {
    await dropTestDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start, in one line naming the missing key id, when stored data keys are wrapped by a key not configured', async () => {
    const k2025 = masterKey('k2025');
    const first = await startTestGateway({ env: env(k2025) });
    const token = await first.token('keyed-player');
    const paid = await checkout(first, token);
    expect(paid.status).toBe(201);
    await first.stop();

    const k2026 = masterKey('k2026');
    const refusal = await createGateway(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env(k2026) })).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ConfigError);
    expect((refusal as ConfigError).issues).toEqual([
      { setting: 'ENCRYPTION_KEYS', message: expect.stringMatching(/^lacks master key k2025, which wraps stored data keys/) },
    ]);
    for (const key of [k2025, k2026]) expect((refusal as ConfigError).message).not.toContain(key.split(':')[1]);

    // With the old key listed after the new active one, it starts and reads what the old key wraps.
    const rotated = await startTestGateway({ env: env(`${k2026},${k2025}`) });
    try {
      const order = await rotated.http.get(`/v1/orders/${paid.body.id}`).set('Authorization', `Bearer ${token}`);
      expect(order.status).toBe(200);
    } finally {
      await rotated.stop();
    }
  });

  it('finds every stored master key id that is not configured, before, between and after the configured ones', async () => {
    const gateway = await startTestGateway({ env: env(masterKey('k2025')) });
    try {
      const stored = ['k2024', 'k2025', 'k2025b', 'k2026', 'k2026'];
      for (const [i, masterKeyId] of stored.entries()) {
        await gateway.gateway.db.many('INSERT INTO subject_keys (id, subject_hash, master_key_id, wrapped_key) VALUES ($1, $1, $2, $3)', [
          `sk_listed_${i}`, masterKeyId, 'not-a-real-wrapping',
        ]);
      }
      const configured = { ids: ['k2025', 'k2026'] } as Parameters<typeof unconfiguredMasterKeyIds>[1];
      expect(await unconfiguredMasterKeyIds(gateway.gateway.db, configured)).toEqual(['k2024', 'k2025b']);
    } finally {
      await gateway.stop();
    }
  });
});
