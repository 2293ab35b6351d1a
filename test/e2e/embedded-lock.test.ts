import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../../src/db/connect';

describe('the embedded database is used by one process at a time', () => {
  it('refuses a second opener (a CLI while the gateway runs) with a clear message, and opens again once released', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-lock-'));
    const open = () => connectDatabase({ dataDir, poolSize: 1, migrate: true });
    try {
      const first = await open();
      await expect(open()).rejects.toThrow(/in use by process \d+ .*Stop it first, or run against PostgreSQL with DATABASE_URL/);
      await first.close();
      const again = await open();
      expect(await again.db.ping()).toBe(true);
      await again.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('takes over a lock left by a process that no longer runs', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-lock-'));
    try {
      fs.mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'pgdata', 'kalos.lock'), '999999999');
      const handle = await connectDatabase({ dataDir, poolSize: 1, migrate: false });
      expect(fs.readFileSync(path.join(dataDir, 'pgdata', 'kalos.lock'), 'utf8')).toBe(String(process.pid));
      await handle.close();
      expect(fs.existsSync(path.join(dataDir, 'pgdata', 'kalos.lock'))).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
