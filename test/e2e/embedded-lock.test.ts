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
      await expect(open()).rejects.toThrow(/already open in this process/);
      // Another live process holding it (here: our parent, on this host) is refused by name.
      const lock = path.join(dataDir, 'pgdata', 'kalos.lock');
      const ours = fs.readFileSync(lock, 'utf8');
      await first.close();
      fs.writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: os.hostname() }));
      await expect(open()).rejects.toThrow(/in use by process \d+ .*Stop it first, or run against PostgreSQL with DATABASE_URL/);
      expect(JSON.parse(ours)).toEqual({ pid: process.pid, host: os.hostname() });
      fs.rmSync(lock);
      const again = await open();
      expect(await again.db.ping()).toBe(true);
      await again.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a process that no longer runs', JSON.stringify({ pid: 999_999_999, host: os.hostname() })],
    ['an earlier life of this very pid (a container restarted as PID 1)', JSON.stringify({ pid: process.pid, host: os.hostname() })],
    ['another host (an old container)', JSON.stringify({ pid: process.ppid, host: 'some-old-container' })],
    ['a crash before the file was written', ''],
  ])('takes over a lock left by %s', async (_label, content) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-lock-'));
    const lock = path.join(dataDir, 'pgdata', 'kalos.lock');
    try {
      fs.mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
      fs.writeFileSync(lock, content);
      const handle = await connectDatabase({ dataDir, poolSize: 1, migrate: false });
      expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toEqual({ pid: process.pid, host: os.hostname() });
      await handle.close();
      expect(fs.existsSync(lock)).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
