import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig, settingNames } from '../../src/config';
import { resolveKeyMaterial } from '../../src/config/key-material';

const root = path.resolve(__dirname, '../..');
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; env_file?: string[]; command?: string[] }>;
};
const kalosServices = Object.entries(compose.services).filter(([, service]) => service.build === '.');

/** KEY=value lines of an env file, as compose reads them (comments and blank lines skipped). */
function readEnvFile(file: string): Record<string, string> {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

describe('docker-compose.yml', () => {
  let secrets: string;
  beforeAll(() => {
    secrets = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-compose-'));
    execFileSync(path.join(root, 'scripts/dev-secrets'), [secrets]);
  });
  afterAll(() => fs.rmSync(secrets, { recursive: true, force: true }));

  /** The environment a gateway container gets: its env files (the generated ones), then `environment`. */
  const containerEnv = (service: (typeof compose.services)[string]) => ({
    ...Object.assign({}, ...(service.env_file ?? []).map((file) => readEnvFile(path.join(secrets, path.basename(file))))),
    ...service.environment,
  });

  it('runs the gateway image as the migrate job and as the server', () => {
    expect(kalosServices.map(([name, service]) => [name, service.command ?? 'CMD'])).toEqual([
      ['migrate', ['kalos', 'migrate']],
      ['gateway', 'CMD'],
    ]);
  });

  it('sets only environment names the gateway reads, in the file and in the generated secrets', () => {
    const known = new Set(settingNames());
    for (const [, service] of kalosServices) {
      const unknown = Object.keys(containerEnv(service)).filter((name) => !known.has(name));
      expect(unknown).toEqual([]);
    }
  });

  it('gives the gateway every setting production requires, valid, with generated secrets', () => {
    for (const [, service] of kalosServices) {
      const config = loadConfig({ ...containerEnv(service), DATA_DIR: secrets });
      expect(config).toMatchObject({ production: true, sandbox: { enabled: true }, redisUrl: 'redis://redis:6379' });
      expect(config.database.url).toMatch(/^postgres:\/\/kalos:[0-9a-f]{48}@postgres:5432\/kalos$/);
      const keys = resolveKeyMaterial(config);
      expect(keys.masterKeys).toHaveLength(1);
      expect(keys.embeddedJwt).toBeDefined(); // the dev identity is the only generated key
    }
  });

  it('gives PostgreSQL the password in the gateway’s DATABASE_URL', () => {
    const postgres = compose.services.postgres;
    const password = readEnvFile(path.join(secrets, 'postgres.env')).POSTGRES_PASSWORD;
    expect(postgres.env_file).toEqual(['secrets/postgres.env']);
    expect(postgres.environment).toMatchObject({ POSTGRES_USER: 'kalos', POSTGRES_DB: 'kalos' });
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(readEnvFile(path.join(secrets, 'gateway.env')).DATABASE_URL).toContain(`:${password}@`);
  });

  it('dev-secrets never overwrites secrets that already exist', () => {
    expect(() => execFileSync(path.join(root, 'scripts/dev-secrets'), [secrets], { stdio: 'pipe' })).toThrow(/already holds secrets/);
  });
});
