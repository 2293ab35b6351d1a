import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { COMMANDS, runKalos } from '../../src/cli/main';
import { createTestDatabase, dropTestDatabase } from '../support/databases';

/** `kalos <command>` through its command table, on the settings a test passes (a database of its own). */
describe('kalos', () => {
  let dataDir: string;
  let databaseUrl: string | undefined;
  let env: Record<string, string>;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-cli-'));
    databaseUrl = await createTestDatabase();
    env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  });
  afterAll(async () => {
    await dropTestDatabase(databaseUrl);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const kalos = (...argv: string[]) => runKalos(argv, { env });

  it('lists every command, with or without --help', async () => {
    for (const help of [[], ['--help'], ['-h'], ['help']]) {
      const usage = await kalos(...help);
      expect(usage).toMatch(/^usage: kalos <command>/);
      for (const name of ['migrate', 'reconcile', 'ops', 'blocklist', 'token']) expect(usage).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
  });

  it('prints each command’s own usage for --help, naming it as kalos <command>', async () => {
    for (const command of COMMANDS) {
      const usage = await kalos(command.name, '--help');
      expect(usage).toBe(command.usage);
      expect(usage).toMatch(new RegExp(`^usage: kalos ${command.name}\\b`));
    }
  });

  it('refuses an unknown command with the list of known ones', async () => {
    await expect(kalos('migrat')).rejects.toThrow(/^kalos: unknown command "migrat"\n\nusage: kalos <command>/);
  });

  it('migrates, then finds nothing left to do', async () => {
    expect(await kalos('migrate')).toMatch(/^migrations applied \((PostgreSQL|embedded database)\)$/);
    expect(await kalos('migrate')).toMatch(/^migrations applied/);
    await expect(kalos('migrate', 'now')).rejects.toThrow(/^usage: kalos migrate/);
  });

  it('runs reconcile and blocklist on the configured database', async () => {
    expect(await kalos('reconcile', '--older-than', '0')).toMatch(/^reconcile: examined 0, settled 0, could not ask 0\nexpire: examined 0/);
    await expect(kalos('reconcile', '--older-than', 'soon')).rejects.toThrow('--older-than takes a whole number of seconds');
    expect(await kalos('blocklist', 'add', 'ip', '198.51.100.0/24', 'test')).toBe('added 198.51.100.0/24');
    expect(await kalos('blocklist', 'list', 'ip')).toMatch(/^ip\t198\.51\.100\.0\/24\t\S+\ttest$/);
  });

  it('signs an app token with the embedded identity, and refuses when tokens come from an identity service', async () => {
    const token = await kalos('token', '--sub', 'alice', '--step-up');
    expect(decodeJwt(token)).toMatchObject({ sub: 'alice', iss: 'kalos-pay-embedded', amr: ['mfa'] });
    const external = { ...env, APP_JWKS_URL: 'https://id.example.com/jwks.json', APP_JWT_ISSUER: 'https://id.example.com/' };
    await expect(runKalos(['token', '--sub', 'alice'], { env: external })).rejects.toThrow('This gateway trusts an external identity service');
  });
});
