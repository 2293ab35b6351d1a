import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGateway } from '../../src/app/context';
import { runKeysCommand } from '../../src/cli/keys';
import { loadConfig } from '../../src/config';
import { BlindIndex } from '../../src/privacy/keyring';
import { createTestDatabase, dropTestDatabase } from '../support/databases';
import { aDevice, checkout, startTestGateway } from '../support/gateway';

describe('blind-index key rotation with keys rehash-blind-index', () => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const env = (blindIndexKey: string) => ({ DATA_DIR: dataDir, BLIND_INDEX_KEY: blindIndexKey, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
  const phones = { 'rehash-alice': ['alice-phone', 'alice-tablet'], 'rehash-bob': ['bob-phone'] };
  const paymentsOf = new Map<string, string[]>();

  /** What the CLI does: a gateway on the old key (not serving), told the new key through the environment. */
  async function rehash(): Promise<string> {
    const gateway = await createGateway(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env(oldKey) }));
    try {
      return await runKeysCommand(['rehash-blind-index'], { ...gateway, env: { BLIND_INDEX_KEY_NEXT: newKey } });
    } finally {
      await gateway.close();
    }
  }

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-rehash-'));
    databaseUrl = await createTestDatabase();
    const before = await start(oldKey);
    try {
      for (const [user, devices] of Object.entries(phones)) {
        const token = await before.token(user);
        for (const id of devices) {
          const created = await checkout(before, token, { device: aDevice({ id }) });
          expect(created.status).toBe(201);
          paymentsOf.set(user, [...(paymentsOf.get(user) ?? []), created.body.id]);
        }
      }
      await before.gateway.db.many(`INSERT INTO risk_blocklist (kind, value_hash) VALUES ('device', 'hash-under-old-key')`);
      await before.gateway.db.many(`INSERT INTO risk_blocklist (kind, ip_range) VALUES ('ip', '203.0.113.0/24')`);
    } finally {
      await before.stop();
    }
  });

  afterAll(async () => {
    await dropTestDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  function start(blindIndexKey: string) {
    return startTestGateway({ env: env(blindIndexKey) });
  }

  it('moves every subject onto the new key, and a second run finds nothing left to do', async () => {
    expect(await rehash()).toBe(
      [
        'rehashed 2 subjects (0 were done already, 0 have no readable payment left)',
        'deleted 3 idempotency keys and 1 blocklist entries: re-enter the blocklist from its source',
        'now set BLIND_INDEX_KEY to the new key and start the gateways',
      ].join('\n'),
    );

    expect((await rehash()).split('\n')[0]).toBe('rehashed 0 subjects (2 were done already, 0 have no readable payment left)');
  });

  it('then serves every user under the new key: their orders, their devices, their one data key', async () => {
    const after = await start(newKey);
    try {
      const index = new BlindIndex(Buffer.from(newKey, 'base64'));
      for (const [user, devices] of Object.entries(phones)) {
        const token = await after.token(user);
        const orders = await after.http.get('/v1/orders').set('Authorization', `Bearer ${token}`);
        expect(orders.body.data.map((order: { id: string }) => order.id).sort()).toEqual([...paymentsOf.get(user)!].sort());
        const rows = await after.gateway.db.many<{ device_hash: string }>('SELECT device_hash FROM payments WHERE user_hash = $1 ORDER BY device_hash', [
          index.hash('user', user),
        ]);
        expect(rows.map((row) => row.device_hash)).toEqual(devices.map((id) => index.hash('device', id)).sort());
        expect((await checkout(after, token, { device: aDevice({ id: devices[0] }) })).status).toBe(201);
      }
      const subjects = await after.gateway.db.many('SELECT id FROM subject_keys');
      expect(subjects).toHaveLength(2);
      expect(await after.gateway.db.many('SELECT kind, ip_range FROM risk_blocklist')).toEqual([{ kind: 'ip', ip_range: '203.0.113.0/24' }]);
    } finally {
      await after.stop();
    }
  });

  it('refuses to run without the new key in BLIND_INDEX_KEY_NEXT', async () => {
    const gateway = await createGateway(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env(newKey) }));
    try {
      await expect(runKeysCommand(['rehash-blind-index'], { ...gateway, env: {} })).rejects.toThrow('BLIND_INDEX_KEY_NEXT must hold the new blind-index key');
    } finally {
      await gateway.close();
    }
  });
});
