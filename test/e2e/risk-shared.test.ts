import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_RULES_FILE } from '../../src/risk/settings';
import { deleteTestRedisKeys, redisExpected, testRedisUrl, uniquePrefix } from '../support/redis';
import Redis from 'ioredis';
import supertest from 'supertest';
import { signAppToken } from '../../src/auth/embedded-issuer';
import { loadConfig } from '../../src/config';
import { resolveKeyMaterial } from '../../src/config/key-material';
import { createTestDatabase, dropTestDatabase } from '../support/databases';
import { seedEmbeddedDatabase } from '../support/embedded-template';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

/** A TCP relay in front of the test Redis that can be cut, to take "Redis" away from a running gateway. */
async function cuttableRedis() {
  const target = new URL(testRedisUrl());
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

let buyers = 0;
async function aBuyer(kalos: TestGateway) {
  const n = buyers++;
  return { token: await kalos.token(`shared-buyer-${n}`), device: aDevice({ id: `shared-phone-${n}` }) };
}

(redisExpected() ? describe : describe.skip)('gateway instances sharing one Redis', () => {
  let first: TestGateway;
  let second: TestGateway;

  beforeAll(async () => {
    first = await startTestGateway({ redis: true });
    second = await startTestGateway({ env: first.sharedEnv });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  test('ten attempts split across both instances trip the per-user limit at the sixth, as on one instance', async () => {
    const buyer = await aBuyer(first);
    const decisions: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const res = await checkout(i % 2 === 0 ? first : second, buyer.token, { device: buyer.device });
      expect(res.status).toBe(201);
      decisions.push(res.body.risk.decision);
    }
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'allow', 'allow', 'challenge', 'challenge', 'challenge', 'challenge', 'challenge']);
  });

  test('a device used by many accounts is noticed across instances', async () => {
    const device = aDevice({ id: `shared-phone-farm-${buyers++}` });
    const decisions: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const res = await checkout(i % 2 === 0 ? second : first, await first.token(`farm-account-${buyers}-${i}`), { device });
      decisions.push(res.body.risk.decision);
    }
    expect(decisions).toEqual(['allow', 'allow', 'allow', 'review', 'review']);
  });

  test('the previous location reaches the other instance only sealed, and impossible travel is still noticed', async () => {
    const buyer = await aBuyer(first);
    const shanghai = await checkout(first, buyer.token, { device: buyer.device, location: { lat: 31.2304, lon: 121.4737 } });
    expect(shanghai.body.risk.decision).toBe('allow');

    const redis = new Redis(testRedisUrl());
    try {
      const prefix = first.sharedEnv.RISK_REDIS_KEY_PREFIX;
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      const values = await Promise.all(
        keys.map(async (key) =>
          (await redis.type(key)) === 'hash' ? Object.entries(await redis.hgetall(key)).flat().join(' ') : String(await redis.get(key)),
        ),
      );
      for (const coordinate of ['31.23', '121.47', '3123', '12147']) expect(values.join('\n')).not.toContain(coordinate);
    } finally {
      redis.disconnect();
    }

    const london = await checkout(second, buyer.token, { device: buyer.device, location: { lat: 51.5, lon: -0.12 } });
    expect(london.body.risk.decision).toBe('review');
    const explained = await second.http.get(`/v1/orders/${london.body.id}/decision`).set('Authorization', `Bearer ${buyer.token}`);
    expect(explained.body.reasons.map((r: { code: string }) => r.code)).toEqual(['impossible_travel']);
  });
});

afterAll(() => deleteTestRedisKeys());

(redisExpected() ? describe : describe.skip)('Redis going away mid-run', () => {
  test('checkouts get the fail mode (review), the decision says so, and nothing answers 500', async () => {
    const redis = await cuttableRedis();
    const kalos = await startTestGateway({ env: { REDIS_URL: redis.url, RISK_REDIS_KEY_PREFIX: uniquePrefix(), RATE_LIMIT_REDIS_KEY_PREFIX: uniquePrefix() } });
    try {
      const buyer = await aBuyer(kalos);
      const before = await checkout(kalos, buyer.token, { device: buyer.device });
      expect(before.status).toBe(201);
      expect(before.body.risk.decision).toBe('allow');

      redis.cut();
      for (let i = 0; i < 3; i += 1) {
        const started = Date.now();
        const during = await checkout(kalos, buyer.token, { device: buyer.device });
        expect(during.status).toBe(201);
        expect(during.body.risk.decision).toBe('review');
        expect(Date.now() - started).toBeLessThan(2_000);
        const explained = await kalos.http.get(`/v1/orders/${during.body.id}/decision`).set('Authorization', `Bearer ${buyer.token}`);
        expect(explained.body.reasons.map((r: { code: string }) => r.code)).toEqual(['risk_checks_unavailable']);
      }
    } finally {
      await kalos.stop();
    }
  });
});

describe('rules file at start-up and on SIGHUP', () => {
  let dir: string;
  let rulesFile: string;
  const shipped = fs.readFileSync(DEFAULT_RULES_FILE, 'utf8');
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'risk-rules-'));
    if (!process.env.TEST_DATABASE_URL) seedEmbeddedDatabase(dir);
    rulesFile = path.join(dir, 'rules.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an invalid rules file stops the service at start-up with one clear line per bad rule', async () => {
    fs.writeFileSync(rulesFile, shipped.replace('"condition": "device.emulator"', '"condition": "device.emulater"').replace('"action": "block", "score": 100 },\n    { "id": "ip_blocklisted"', '"action": "ban", "score": 100 },\n    { "id": "ip_blocklisted"'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: path.resolve(__dirname, '../..'),
      env: { PATH: process.env.PATH, NODE_ENV: 'test', DATA_DIR: dir, RISK_RULES_FILE: rulesFile, LOG_LEVEL: 'silent', PORT: '0', ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: process.env.TEST_DATABASE_URL } : {}) },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`kalos-pay could not start: Invalid risk rules file ${rulesFile}:`);
    expect(stderr).toContain('  - rule #2 "device_blocklisted": action Invalid option');
    expect(stderr).toContain('  - rule #4 "emulator": condition uses an unknown feature "emulater" (see docs/risk.md)');
  }, 60_000);

  test('SIGHUP reloads the rules without a restart, and keeps them when the new file is invalid', async () => {
    fs.writeFileSync(rulesFile, shipped);
    const env = { NODE_ENV: 'test', DATA_DIR: dir, RISK_RULES_FILE: rulesFile, LOG_LEVEL: 'info', PORT: '0', ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: await createTestDatabase() } : {}) } as Record<string, string>;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: path.resolve(__dirname, '../..'), env: { PATH: process.env.PATH, ...env } });
    const logLines: string[] = [];
    const logged = (message: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${message}" log line; got:\n${logLines.join('\n')}`)), 30_000);
        const look = () => {
          const found = logLines.map((line) => JSON.parse(line)).find((entry) => entry.msg === message);
          if (found) {
            clearTimeout(timer);
            child.stdout.off('data', look);
            resolve(found);
          }
        };
        child.stdout.on('data', look);
        look();
      });
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      logLines.push(...lines.filter((line) => line.startsWith('{')));
    });
    try {
      const { url } = (await logged('kalos-pay listening')) as { url: string };
      const keys = resolveKeyMaterial(loadConfig(env)).embeddedJwt!;
      const config = loadConfig(env);
      const token = (sub: string) => signAppToken({ privateKeyPem: keys.privateKeyPem, iss: config.auth.issuer, aud: config.auth.audience }, { sub });
      const rootedCheckout = async () => {
        const n = buyers++;
        const res = await supertest(url).post('/v1/checkouts').set('Authorization', `Bearer ${await token(`sighup-${n}`)}`).set('Idempotency-Key', `sighup-${n}`)
          .send({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: `sighup-phone-${n}`, rooted: true }) });
        expect(res.status).toBe(201);
        return res.body.risk.decision;
      };
      expect(await rootedCheckout()).toBe('challenge');

      fs.writeFileSync(rulesFile, shipped.replace('"condition": "device.rooted", "action": "challenge"', '"condition": "device.rooted", "action": "review"'));
      child.kill('SIGHUP');
      await logged('risk rules reloaded');
      expect(await rootedCheckout()).toBe('review');

      fs.writeFileSync(rulesFile, '{ "version": "broken", "rules": [ { "id": "x" ');
      child.kill('SIGHUP');
      expect(await logged('risk rules file invalid; keeping the rules in force')).toMatchObject({ issues: [expect.stringMatching(/^not valid JSON/)] });
      expect(await rootedCheckout()).toBe('review');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('exit', resolve));
      await dropTestDatabase(env.DATABASE_URL);
    }
  }, 90_000);
});
