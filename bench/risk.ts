/**
 * `npm run bench:risk`: what the risk engine costs.
 *   1. the decision alone (features, Redis counters in one round trip, blocklist query, rules), and
 *   2. a full checkout over HTTP with risk on (Redis counters) against the same checkout with RISK_ENABLED=false.
 * Uses DATABASE_URL (else the embedded database) and REDIS_URL (else redis://127.0.0.1:6379); everything stays on
 * this machine. BENCH_DECISIONS / BENCH_CHECKOUTS / BENCH_CONCURRENCY size the runs.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createGateway, Gateway } from '../src/app/context';
import { startServer } from '../src/app/server';
import { signAppToken } from '../src/auth/embedded-issuer';
import { loadConfig } from '../src/config';
import type { RiskInput } from '../src/risk/types';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 2000);
const CHECKOUTS = Number(process.env.BENCH_CHECKOUTS ?? 400);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Figures {
  label: string;
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Runs `work(i)` `count` times with `concurrency` in flight; latency per call, throughput over the whole run. */
async function measure(label: string, count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await work(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { label, count, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const randomIp = () => `${11 + (randomBytes(1)[0] % 100)}.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${1 + (randomBytes(1)[0] % 250)}`;

async function startGateway(env: Record<string, string>) {
  const gateway = await createGateway(loadConfig(env));
  const server = await startServer(gateway, { host: '127.0.0.1', port: 0 });
  return { gateway, server };
}

function decisionInput(gateway: Gateway, run: string, i: number): RiskInput {
  const user = `bench-${run}-user-${i % 500}`;
  const device = `bench-${run}-device-${i % 700}`;
  return {
    paymentId: `pay_bench${run}${i}`,
    attemptId: `attempt-${run}-${i}`,
    userId: user,
    userHash: gateway.blindIndex.hash('user', user),
    device: { id: device, hash: gateway.blindIndex.hash('device', device), model: 'Pixel 8', os: 'Android', osVersion: '15', emulator: false, rooted: i % 50 === 0 },
    ipAddress: randomIp(),
    location: { lat: 31.2 + (i % 10) / 100, lon: 121.4 },
    claims: { minor: false, guardianConsent: false, country: 'CN' },
    money: { amount: 6000, currency: 'CNY' },
    sku: 'gems_600',
    quantity: 1,
    provider: 'sandbox',
    now: new Date(),
  };
}

async function checkoutRun(label: string, env: Record<string, string>, run: string): Promise<Figures> {
  const { gateway, server } = await startGateway(env);
  try {
    const issuer = gateway.keys.embeddedJwt!;
    const tokens = await Promise.all(
      Array.from({ length: CHECKOUTS }, (_, i) =>
        signAppToken({ privateKeyPem: issuer.privateKeyPem, iss: gateway.config.auth.issuer, aud: gateway.config.auth.audience }, { sub: `bench-${run}-${label}-${i}` }),
      ),
    );
    const checkout = async (i: number) => {
      const res = await fetch(`${server.url}/v1/checkouts`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${tokens[i]}`,
          'idempotency-key': `bench-${run}-${i}`,
          'x-forwarded-for': randomIp(),
        },
        body: JSON.stringify({ sku: 'gems_600', provider: 'sandbox', device: { id: `bench-${run}-${label}-dev-${i}`, model: 'Pixel 8', os: 'Android', os_version: '15', emulator: false, rooted: false } }),
      });
      if (res.status !== 201) throw new Error(`checkout answered ${res.status}: ${await res.text()}`);
    };
    for (let i = 0; i < 20; i += 1) await checkout(CHECKOUTS - 1 - i); // warm-up: JIT, pools, prepared scripts
    return await measure(label, CHECKOUTS - 20, CONCURRENCY, checkout);
  } finally {
    await server.shutdown();
  }
}

function print(rows: Figures[]) {
  console.log(`\n${'run'.padEnd(44)} ${'n'.padStart(6)} ${'per s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
  for (const row of rows) {
    console.log(`${row.label.padEnd(44)} ${String(row.count).padStart(6)} ${row.perSecond.toFixed(0).padStart(9)} ${row.p50.toFixed(2).padStart(8)} ${row.p99.toFixed(2).padStart(8)}`);
  }
}

async function main() {
  const run = randomBytes(4).toString('hex');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-bench-'));
  const base: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    TRUST_PROXY: '1',
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  };
  const withRedis = { ...base, REDIS_URL, RISK_REDIS_KEY_PREFIX: `kp:bench:${run}:` };
  console.log(`database: ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded'} · Redis: ${REDIS_URL.replace(/\/\/.*@/, '//***@')} · concurrency ${CONCURRENCY} · ${os.cpus().length} cores`);
  try {
    const rows: Figures[] = [];
    const { gateway, server } = await startGateway(withRedis);
    try {
      for (let i = 0; i < 200; i += 1) await gateway.risk.assess(decisionInput(gateway, run, i), gateway.db);
      rows.push(await measure('decision alone, Redis counters, sequential', DECISIONS, 1, (i) => gateway.risk.assess(decisionInput(gateway, run, i), gateway.db).then(() => undefined)));
      rows.push(await measure(`decision alone, Redis counters, ${CONCURRENCY} in flight`, DECISIONS, CONCURRENCY, (i) => gateway.risk.assess(decisionInput(gateway, run, i + DECISIONS), gateway.db).then(() => undefined)));
    } finally {
      await server.shutdown();
    }
    rows.push(await checkoutRun('full checkout, risk on (Redis counters)', withRedis, run));
    rows.push(await checkoutRun('full checkout, risk off (RISK_ENABLED=false)', { ...withRedis, RISK_ENABLED: 'false' }, run));
    print(rows);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
