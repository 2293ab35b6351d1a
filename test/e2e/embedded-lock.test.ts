import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../../src/db/connect';
import { seedEmbeddedDatabase } from '../support/embedded-template';

const repo = path.resolve(__dirname, '../..');
const FOREIGN_HOST = 'other-container';

/** Whether this machine lets us give a child its own host name (root, or a user namespace). */
const canRenameHost = spawnSync('unshare', ['--uts', 'sh', '-c', `hostname ${FOREIGN_HOST}`]).status === 0;

/**
 * A second process that holds the embedded database, with another host name when the machine allows it
 * (two containers sharing one volume). Otherwise the lock file is made to name another host, which is all
 * a host-name check could ever look at.
 */
function holdInAnotherProcess(dataDir: string): { child: ChildProcessWithoutNullStreams; holding: Promise<void> } {
  const node = [process.execPath, '--import', 'tsx', 'test/support/hold-embedded-database.ts', dataDir];
  const child = canRenameHost
    ? spawn('unshare', ['--uts', 'sh', '-c', `hostname ${FOREIGN_HOST} && exec "$@"`, 'sh', ...node], { cwd: repo })
    : spawn(node[0], node.slice(1), { cwd: repo });
  const holding = new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('holding')) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}: ${output}`)));
  });
  return { child, holding };
}

const exited = (child: ChildProcessWithoutNullStreams) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('the embedded database is used by one process at a time', () => {
  let dataDir: string;
  const open = () => connectDatabase({ dataDir, poolSize: 1, migrate: false });
  const lockFile = () => path.join(dataDir, 'pgdata', 'kalos.lock');

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-lock-'));
    seedEmbeddedDatabase(dataDir);
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a second opener in this process, and opens again once released', async () => {
    const first = await open();
    await expect(open()).rejects.toThrow(/already open in this process/);
    await first.close();
    const again = await open();
    expect(await again.db.ping()).toBe(true);
    await again.close();
  });

  it('refuses while another process holds it, even one on another host, until the kernel releases it on that process’s death', async () => {
    const { child, holding } = holdInAnotherProcess(dataDir);
    try {
      await holding;
      if (!canRenameHost) fs.writeFileSync(lockFile(), JSON.stringify({ pid: child.pid, host: FOREIGN_HOST }));
      expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8')).host).toBe(FOREIGN_HOST);

      await expect(open()).rejects.toThrow(
        new RegExp(`in use by process \\d+ on ${FOREIGN_HOST} \\(a running gateway\\?\\)\\. Stop it first, or run against PostgreSQL with DATABASE_URL`),
      );

      // SIGKILL: no exit handler runs, the lock file stays behind, and still the lock is gone with the process.
      child.kill('SIGKILL');
      await exited(child);
      expect(fs.existsSync(lockFile())).toBe(true);
      const after = await open();
      expect(await after.db.ping()).toBe(true);
      expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, host: os.hostname() });
      await after.close();
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it.each([
    ['a process that no longer runs', JSON.stringify({ pid: 999_999_999, host: os.hostname() })],
    ['an earlier life of this very pid (a container restarted as PID 1)', JSON.stringify({ pid: process.pid, host: os.hostname() })],
    ['a crash before the file was written', ''],
  ])('opens over a lock file left by %s: only a live holder counts', async (_label, content) => {
    fs.mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
    fs.writeFileSync(lockFile(), content);
    const handle = await open();
    expect(JSON.parse(fs.readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, host: os.hostname() });
    await handle.close();
    expect(fs.readFileSync(lockFile(), 'utf8')).toBe('');
  });
});
