import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { migrations } from '../../migrations';
import { databaseUrl, runPrefix, serverUrl, withAdmin } from '../support/databases';

/** `npm start`'s entry point in a child process; resolves with its URL once it logs that it listens. */
function startGateway(env: Record<string, string>): { child: ChildProcessWithoutNullStreams; listening: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  const listening = new Promise<string>((resolve, reject) => {
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)".*"msg":"kalos-pay listening"/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening: ${output}`)));
  });
  return { child, listening };
}

(serverUrl() ? describe : describe.skip)('migrations on an empty database', () => {
  it('let three replicas started at the same moment all come up, each migration applied once', async () => {
    const name = `${runPrefix()}_race_${randomBytes(4).toString('hex')}`;
    await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}`));
    const url = databaseUrl(serverUrl()!, name);
    const dataDirs = [0, 1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-race-')));
    const replicas = dataDirs.map((dataDir) => startGateway({ DATABASE_URL: url, DATA_DIR: dataDir }));
    try {
      const urls = await Promise.all(replicas.map((replica) => replica.listening));
      for (const base of urls) expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const client = new Client({ connectionString: url });
      await client.connect();
      const applied = await client.query('SELECT name FROM schema_migrations ORDER BY id').finally(() => client.end());
      expect(applied.rows.map((row) => row.name)).toEqual(migrations.map((migration) => migration.name));
    } finally {
      for (const { child } of replicas) child.kill('SIGKILL');
      for (const dataDir of dataDirs) fs.rmSync(dataDir, { recursive: true, force: true });
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  }, 90_000);
});
