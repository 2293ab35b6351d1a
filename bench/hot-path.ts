/**
 * `npm run bench`: the hot path against a floor, in one run on one machine.
 *   floor    — express 5 + one pg INSERT per request (bench/hot-path-server.ts floor);
 *   checkout — POST /v1/checkouts on the sandbox, PostgreSQL + Redis, risk and encryption on;
 *   webhook  — signed sandbox webhooks for the payments the checkout run created.
 * Each server runs in its own process (its CPU and peak RSS are its own); autocannon drives them from this
 * one. Prints req/s, p50/p99, non-2xx answers, statements (round trips) per request and peak RSS, with the
 * ratios to the floor, then the counters line (one user with 200k events in 24 h).
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) names a server where a scratch database
 * kalos_bench_<run> is created and dropped again; REDIS_URL (default redis://127.0.0.1:6379) is used under
 * a key prefix of this run only. BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_USERS (5000) size it;
 * BENCH_PROFILE=1 writes a CPU profile of the gateway's measured checkout and webhook runs (warm-ups left
 * out) into ./bench-profile/. Both servers run with the Node options the image runs the gateway with (the
 * Dockerfile's NODE_OPTIONS), so the figures are those of what ships; BENCH_NODE_OPTIONS (space-separated,
 * empty for none) replaces them.
 */
import { ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { Client } from 'pg';
import { signAppToken } from '../src/auth/embedded-issuer';
import { buildSandboxWebhook } from '../src/providers/sandbox/provider';
import type { Issuer } from './hot-path-server';
import { countersLine } from './counters';
import { imageNodeOptions } from './image-node-options';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const USERS = Number(process.env.BENCH_USERS ?? 5000);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WEBHOOK_SECRET = randomBytes(24).toString('hex');
const REPO_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '..' : '../..');
const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? imageNodeOptions(REPO_ROOT);

interface Ready {
  url: string;
  issuer?: Issuer;
  heapLimitMb: number;
}
interface Stats {
  roundTrips: number;
  peakRssMb: number;
  cpuMs: number;
}
interface Server {
  ready: Ready;
  /** The server's counters at the start or the end of a measured run (`label`, for its profile). */
  stats(phase: 'start' | 'end', label: string): Promise<Stats>;
  stop(): void;
}

/** This process's environment without NODE_OPTIONS: the servers run with NODE_OPTIONS above (the image's, or BENCH_NODE_OPTIONS) and no others. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  delete inherited.NODE_OPTIONS;
  return inherited;
}

function startChild(kind: 'floor' | 'gateway', env: Record<string, string>): Promise<Server> {
  // Compiled (npm run bench builds first), so a server's RSS and CPU are its own, not a TypeScript loader's;
  // run from source (tsx bench/hot-path.ts), the servers are too.
  const fromSource = __filename.endsWith('.ts');
  const child: ChildProcess = fork(path.join(__dirname, fromSource ? 'hot-path-server.ts' : 'hot-path-server.js'), [kind], {
    execArgv: [
      ...(fromSource ? ['--import', 'tsx'] : []),
      // Both servers alike: the image's heap sizing, or what BENCH_NODE_OPTIONS says instead (README, Benchmark).
      ...NODE_OPTIONS.split(' ').filter(Boolean),
    ],
    env: { ...inheritedEnv(), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message as T);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
    });
  return next<Ready>('ready').then((ready) => ({
    ready,
    stats: (phase, label) => {
      child.send({ type: 'stats', phase, label });
      return next<Stats>('stats');
    },
    stop: () => child.connected && child.send({ type: 'stop' }),
  }));
}

interface Load {
  reqPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
}

/** Drives for `length` seconds, or for an exact number of requests. */
async function drive(url: string, requests: autocannon.Request[], length: { seconds: number } | { amount: number }): Promise<Load> {
  const extent = 'amount' in length ? { amount: length.amount } : { duration: length.seconds };
  const result = await autocannon({ url, connections: CONNECTIONS, ...extent, requests });
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Runs a warm-up (by default a fifth of the run), then the measured load, and reads the statements the server sent meanwhile. */
async function measure(label: string, server: Server, requests: () => autocannon.Request[], warmUp: { amount: number } | { seconds: number } = { seconds: Math.max(2, Math.round(SECONDS / 5)) }): Promise<Load & Stats> {
  await drive(server.ready.url, requests(), warmUp);
  const before = await server.stats('start', label);
  const load = await drive(server.ready.url, requests(), { seconds: SECONDS });
  const after = await server.stats('end', label);
  const answered = Math.max(1, load.ok + load.non2xx);
  return {
    ...load,
    roundTrips: (after.roundTrips - before.roundTrips) / answered,
    peakRssMb: after.peakRssMb,
    cpuMs: (after.cpuMs - before.cpuMs) / answered,
  };
}

const floorRequests = (): autocannon.Request[] => [
  { method: 'POST', path: '/floor', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'gems_600', quantity: 1 }) },
];

function checkoutRequests(run: string, tokens: string[], created: string[], answers: Map<string, number>): () => autocannon.Request[] {
  let n = 0;
  return () => [
    {
      method: 'POST',
      path: '/v1/checkouts',
      setupRequest: (request) => {
        const i = n++;
        const user = i % tokens.length;
        return {
          ...request,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${tokens[user]}`,
            'idempotency-key': `bench-${run}-${i}`,
            'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          },
          body: JSON.stringify({
            sku: 'gems_600',
            provider: 'sandbox',
            device: { id: `bench-${run}-dev-${user}`, model: 'Pixel 8', os: 'Android', os_version: '15', emulator: false, rooted: false },
          }),
        };
      },
      onResponse: (status, body) => {
        const answer = status === 201 ? (JSON.parse(body) as { id: string; status: string }) : undefined;
        if (answer?.status === 'requires_payment') created.push(answer.id);
        const outcome = answer?.status ?? String(status);
        answers.set(outcome, (answers.get(outcome) ?? 0) + 1);
      },
    },
  ];
}

function webhookRequests(run: string, payments: string[]): () => autocannon.Request[] {
  let n = 0;
  return () => [
    {
      method: 'POST',
      path: '/v1/webhooks/sandbox',
      setupRequest: (request) => {
        const i = n++;
        const { body, headers } = buildSandboxWebhook(WEBHOOK_SECRET, {
          id: `evt_${run}_${i}`,
          type: 'payment.succeeded',
          data: { payment_id: payments[i % payments.length], amount: 6000, currency: 'CNY' },
        });
        return { ...request, headers, body: body.toString('utf8') };
      },
    },
  ];
}

const pad = (value: string, width: number) => value.padStart(width);

function print(floor: Load & Stats, rows: Array<[string, Load & Stats]>) {
  console.log(`\n${'run'.padEnd(10)}${pad('req/s', 9)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('non-2xx', 9)}${pad('stmts/req', 11)}${pad('peak RSS', 10)}${pad('CPU ms/req', 12)}${pad('× floor req/s', 15)}${pad('× floor p99', 13)}`);
  for (const [label, row] of [['floor', floor] as [string, Load & Stats], ...rows]) {
    console.log(
      `${label.padEnd(10)}${pad(row.reqPerSec.toFixed(0), 9)}${pad(String(row.p50), 8)}${pad(String(row.p99), 8)}${pad(String(row.non2xx + row.errors), 9)}` +
        `${pad(row.roundTrips.toFixed(2), 11)}${pad(`${row.peakRssMb.toFixed(0)} MB`, 10)}${pad(row.cpuMs.toFixed(2), 12)}` +
        `${pad(`${((100 * row.reqPerSec) / floor.reqPerSec).toFixed(1)} %`, 15)}${pad(`${(row.p99 / Math.max(1, floor.p99)).toFixed(2)}×`, 13)}`,
    );
  }
}

async function main() {
  const run = randomBytes(4).toString('hex');
  const database = `kalos_bench_${run}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-bench-'));
  const servers: Server[] = [];
  try {
    console.log(`Node ${process.version} · ${os.cpus().length} cores · ${CONNECTIONS} connections · ${SECONDS} s per run · PostgreSQL + Redis, risk and encryption on`);
    const floorServer = await startChild('floor', { DATABASE_URL: url.toString() });
    servers.push(floorServer);
    const floor = await measure('floor', floorServer, floorRequests);
    floorServer.stop();
    const gateway = await startChild('gateway', {
      NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, TRUST_PROXY: '1', DATABASE_URL: url.toString(), REDIS_URL,
      RISK_REDIS_KEY_PREFIX: `kp:bench:${run}:`, RATE_LIMIT_REDIS_KEY_PREFIX: `kp:bench:${run}:rl:`, SANDBOX_WEBHOOK_SECRET: WEBHOOK_SECRET,
      RATE_LIMIT_IP_PER_MINUTE: '1000000', RATE_LIMIT_USER_PER_MINUTE: '1000000',
    });
    servers.push(gateway);
    const created: string[] = [];
    const answers = new Map<string, number>();
    // The warm-up is every user's first checkout (it creates their data key), so the measured run is of
    // returning users; enough users that none trips the velocity rules, so it measures the paid path.
    const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => signAppToken(gateway.ready.issuer!, { sub: `bench-user-${i}` })));
    const checkout = await measure('checkout', gateway, checkoutRequests(run, tokens, created, answers), { amount: tokens.length });
    const webhook = await measure('webhook', gateway, webhookRequests(run, created));
    print(floor, [['checkout', checkout], ['webhook', webhook]]);
    // V8 lets the old generation grow to 4× what the last full GC kept when the limit is 2 GB or more, less below.
    const options = process.env.BENCH_NODE_OPTIONS === undefined ? `the image's: ${NODE_OPTIONS}` : `BENCH_NODE_OPTIONS: ${NODE_OPTIONS || 'none'}`;
    console.log(`V8 heap limit: floor ${floorServer.ready.heapLimitMb} MB, gateway ${gateway.ready.heapLimitMb} MB (Node options ${options})`);
    console.log(`checkout answers (warm-up included): ${[...answers].map(([outcome, count]) => `${count} ${outcome}`).join(', ')}`);
    console.log(await countersLine(REDIS_URL, `kp:bench:${run}:counters:`));
  } finally {
    for (const server of servers) server.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
    await dropKeys(`kp:bench:${run}:`);
  }
}

/** The run's Redis keys go with it: a Redis filling up run after run slows the next runs down. */
async function dropKeys(prefix: string) {
  const redis = new Redis(REDIS_URL);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.unlink(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
