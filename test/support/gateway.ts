import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import supertest from 'supertest';
import { createGateway, Gateway } from '../../src/app/context';
import { startServer } from '../../src/app/server';
import { AppTokenClaims, signAppToken } from '../../src/auth/embedded-issuer';
import { loadConfig } from '../../src/config';
import { secretsFile } from '../../src/config/key-material';
import { createLogger } from '../../src/http/logger';
import { createTestDatabase, dropTestDatabase } from './databases';
import { seedEmbeddedDatabase } from './embedded-template';
import { deleteTestRedisKeys, testRedisUrl, uniquePrefix } from './redis';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  http: ReturnType<typeof supertest>;
  /** An app token for `sub`, signed by this gateway's embedded identity. */
  token(sub: string, claims?: Omit<AppTokenClaims, 'sub'>): Promise<string>;
  /**
   * Settings to start a second instance with the same keys and Redis, on the same database when tests run
   * on PostgreSQL. The embedded database serves one process at a time, so there the second instance gets
   * its own database (and a copy of the keys).
   */
  sharedEnv: Record<string, string>;
  /** Log lines written so far, when started with captureLogs. */
  logs: string[];
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Extra settings, e.g. STRIPE_* for a fake Stripe; these win over the defaults. */
  env?: Record<string, string>;
  /** Use Redis (TEST_REDIS_URL) for counters and rate limits, under key prefixes of its own, deleted on stop. */
  redis?: boolean;
  /** Force the embedded database even when TEST_DATABASE_URL is set. */
  embedded?: boolean;
  /** Keep every log line (as written, after redaction) in `logs`. */
  captureLogs?: boolean;
}

/**
 * Starts a real gateway (HTTP server on a loopback port, real database, real keys generated into a temp
 * DATA_DIR) the way `npm start` does, for tests that talk HTTP to it.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const ownsDatabase = !options.env?.DATABASE_URL;
  const databaseUrl = options.embedded ? undefined : (options.env?.DATABASE_URL ?? (await createTestDatabase()));
  const dataDir = options.env?.DATA_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-test-'));
  if (!databaseUrl && !options.env?.DATA_DIR) seedEmbeddedDatabase(dataDir);
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATA_DIR: dataDir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(options.redis ? { REDIS_URL: testRedisUrl(), RISK_REDIS_KEY_PREFIX: uniquePrefix(), RATE_LIMIT_REDIS_KEY_PREFIX: uniquePrefix() } : {}),
    ...options.env,
  };
  const logs: string[] = [];
  const logger = options.captureLogs ? createLogger('debug', { write: (line: string) => void logs.push(line) }) : undefined;
  const gateway = await createGateway(loadConfig(env), { logger });
  const server = await startServer(gateway, { host: '127.0.0.1', port: 0 });
  const issuer = gateway.keys.embeddedJwt!;
  const siblingDataDir = databaseUrl ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-test-'));
  if (siblingDataDir) seedEmbeddedDatabase(siblingDataDir);
  if (siblingDataDir && fs.existsSync(secretsFile(dataDir))) fs.copyFileSync(secretsFile(dataDir), secretsFile(siblingDataDir));
  return {
    gateway,
    url: server.url,
    http: supertest(server.url),
    token: (sub, claims = {}) =>
      signAppToken({ privateKeyPem: issuer.privateKeyPem, iss: gateway.config.auth.issuer, aud: gateway.config.auth.audience }, { sub, ...claims }),
    sharedEnv: siblingDataDir ? { ...env, DATA_DIR: siblingDataDir } : env,
    logs,
    async stop() {
      await server.shutdown();
      if (options.redis) await deleteTestRedisKeys([env.RISK_REDIS_KEY_PREFIX, env.RATE_LIMIT_REDIS_KEY_PREFIX]);
      if (ownsDatabase) await dropTestDatabase(databaseUrl);
      if (!options.env?.DATA_DIR) fs.rmSync(dataDir, { recursive: true, force: true });
      if (siblingDataDir) fs.rmSync(siblingDataDir, { recursive: true, force: true });
    },
  };
}

export const aDevice = (overrides: Record<string, unknown> = {}) => ({
  id: 'device-ios-1',
  model: 'iPhone15,2',
  os: 'iOS',
  os_version: '17.4',
  emulator: false,
  rooted: false,
  ...overrides,
});

/** One phone per token, so the risk rules see an ordinary user rather than a device shared by the whole suite. */
export const deviceOf = (token: string) => `device-${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;

let keyCounter = 0;
/** A unique Idempotency-Key for one test request. */
export const newKey = () => `test-key-${process.pid}-${Date.now()}-${keyCounter++}`;

export async function checkout(
  test: TestGateway,
  token: string,
  body: Record<string, unknown> = {},
  key: string = newKey(),
) {
  return test.http
    .post('/v1/checkouts')
    .set('Authorization', `Bearer ${token}`)
    .set('Idempotency-Key', key)
    .send({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: deviceOf(token) }), ...body });
}
