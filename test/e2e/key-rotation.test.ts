import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runKeysCommand } from '../../src/cli/keys';
import { MasterKeyring } from '../../src/privacy/keyring';
import { rewrapSubjectKeys } from '../../src/privacy/rewrap';
import { createTestDatabase, dropTestDatabase } from '../support/databases';
import { checkout, startTestGateway, TestGateway } from '../support/gateway';

const masterKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('master key rotation with keys rewrap', () => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  const oldKey = masterKey('k2025');
  const newKey = masterKey('k2026');
  /** One database and one DATA_DIR (so one blind-index key and one token issuer) for gateways started one after another. */
  const start = (encryptionKeys: string) =>
    startTestGateway({ env: { DATA_DIR: dataDir, ENCRYPTION_KEYS: encryptionKeys, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) } });
  const users = ['rotation-alice', 'rotation-bob', 'rotation-carol'];
  const paymentOf = new Map<string, string>();

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-rewrap-'));
    databaseUrl = await createTestDatabase();
    const before = await start(oldKey);
    try {
      for (const user of users) {
        const created = await checkout(before, await before.token(user));
        expect(created.status).toBe(201);
        paymentOf.set(user, created.body.id);
      }
    } finally {
      await before.stop();
    }
  });

  afterAll(async () => {
    await dropTestDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('re-wraps every data key under the new key in resumable batches', async () => {
    const rotating = await start(`${newKey},${oldKey}`);
    try {
      expect(await runKeysCommand(['status'], { ...rotating.gateway, env: {} })).toBe('k2025: 3 data keys');

      const interrupted = await rewrapSubjectKeys(rotating.gateway.db, new MasterKeyring(rotating.gateway.keys.masterKeys), { batchSize: 2, maxBatches: 1 });
      expect(interrupted).toEqual({ rewrapped: 2, remaining: 1 });

      expect(await runKeysCommand(['rewrap', '--batch-size', '2'], { ...rotating.gateway, env: {} })).toBe(
        'rewrapped 1 data keys under k2026; 0 remaining: master keys other than k2026 now wrap nothing and can be removed',
      );
      expect(await runKeysCommand(['status'], { ...rotating.gateway, env: {} })).toBe('k2026: 3 data keys (active)');
    } finally {
      await rotating.stop();
    }
  });

  it('then starts with the old master key removed and serves every user, their sealed data readable', async () => {
    const after = await start(newKey);
    try {
      for (const user of users) {
        const token = await after.token(user);
        const order = await after.http.get(`/v1/orders/${paymentOf.get(user)}`).set('Authorization', `Bearer ${token}`);
        expect(order.status).toBe(200);
        const row = await after.gateway.db.one<{ user_hash: string; user_id_enc: string }>('SELECT user_hash, user_id_enc FROM payments WHERE id = $1', [
          paymentOf.get(user),
        ]);
        expect(await after.gateway.vault.decrypt(after.gateway.db, row!.user_hash, 'payments.user_id', row!.user_id_enc)).toBe(user);
        expect((await checkout(after, token)).status).toBe(201);
      }
    } finally {
      await after.stop();
    }
  });

  it('refuses what it does not know, with its usage', async () => {
    const after = await start(newKey);
    try {
      await expect(runKeysCommand(['rotate'], { ...after.gateway, env: {} })).rejects.toThrow(/^usage: kalos keys status/);
      await expect(runKeysCommand(['rewrap', '--batch-size', '0'], { ...after.gateway, env: {} })).rejects.toThrow('--batch-size takes a whole number');
    } finally {
      await after.stop();
    }
  });
});
