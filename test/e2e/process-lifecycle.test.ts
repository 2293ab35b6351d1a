import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedEmbeddedDatabase } from '../support/embedded-template';

/** The real entry point (`src/main.ts`), as `npm start` runs it, in a child process. */
function startGatewayProcess(env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
}

function waitForExit(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function waitForUrl(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)".*"msg":"kalos-pay listening"/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening: ${output}`)));
  });
}

describe('the gateway process', () => {
  it('starts on embedded defaults, serves, and shuts down cleanly on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-proc-'));
    seedEmbeddedDatabase(dataDir);
    const child = startGatewayProcess({ DATA_DIR: dataDir });
    try {
      const url = await waitForUrl(child);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(fs.statSync(path.join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
      const exited = waitForExit(child);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses to start on bad settings, with one clear line per setting', async () => {
    const child = startGatewayProcess({ NODE_ENV: 'production', PORT: 'eighty', REDIS_URL: 'http://cache', SANDBOX_WEBHOOK_SECRET: 'short' });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await waitForExit(child)).toBe(1);
    expect(stderr).toContain('PORT: must be a whole number from 0 to 65535');
    expect(stderr).toContain('REDIS_URL: must be a URL starting with redis:// or rediss://');
    expect(stderr).toContain('SANDBOX_WEBHOOK_SECRET: must be at least 16 characters');
    expect(stderr).not.toContain('short');
    expect(stderr).not.toMatch(/at \w+ \(/);
  }, 30_000);
});
