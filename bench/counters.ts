/**
 * The counters line of `npm run bench`: one user with 200 000 checkouts in the last 24 h (one device, one
 * IP), then decisions for that user, timed, on both counter stores. Goal: ≤ 5 ms per decision; the cost
 * must not depend on the history (the counters are time-bucketed, see src/risk/counter-specs.ts).
 */
import Redis from 'ioredis';
import { DAY_MS } from '../src/risk/counter-specs';
import { MemoryCounters, RiskCounters } from '../src/risk/counters';
import { DefaultRiskEngine } from '../src/risk/engine';
import { RedisCounters } from '../src/risk/redis-counters';
import { riskSettingsSchema } from '../src/risk/settings';
import type { Sql } from '../src/db/database';
import { BlindIndex } from '../src/privacy/keyring';
import { randomBytes } from 'node:crypto';

const HISTORY = Number(process.env.BENCH_COUNTER_EVENTS ?? 200_000);
const DECISIONS = 200;
/** Decisions for a user with no history first: the engine's cold start (JIT, the rules' first run) is not the heavy user's. */
const WARM_UP = 20;
const IN_FLIGHT = 200;

/** The blocklist read answered from memory: this line measures the counters and the rules, not PostgreSQL. */
const noLists: Sql = {
  many: async () => [{ user: false, device: false, ip: false, deviceKnownForUser: true, unverifiedChallenges24h: 0, reviews24h: 0 }] as never[],
  one: async () => ({ user: false, device: false, ip: false, deviceKnownForUser: true, unverifiedChallenges24h: 0, reviews24h: 0 }) as never,
};

/** The heavy user's address; the engine counts an address under its keyed hash, so the history is filled under the same. */
const HEAVY_IP = '114.114.114.114';

async function fill(counters: RiskCounters, hasher: BlindIndex, start: number): Promise<void> {
  const ipKey = hasher.hash('ip', HEAVY_IP);
  let next = 0;
  const lane = async () => {
    while (next < HISTORY) {
      const i = next++;
      await counters.observe({
        at: start + Math.floor((i * (DAY_MS - 60_000)) / HISTORY), attemptId: `fill-${i}`, userKey: 'heavy-user', deviceKey: 'heavy-device',
        ipKey, money: { amount: 600, currency: 'CNY' },
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

async function decisions(counters: RiskCounters, hasher: BlindIndex, at: number): Promise<{ p50: number; p99: number; max: number; userDay: number }> {
  const engine = new DefaultRiskEngine({ settings: riskSettingsSchema.parse({}), hasher, counters });
  const decide = (user: string, ipAddress: string, i: number) =>
    engine.assess(
      {
        paymentId: `pay_${user}${i}`, attemptId: `${user}-decide-${i}`, userId: user, userHash: `${user}-user`, ipAddress,
        device: { id: 'd', hash: `${user}-device`, model: 'Pixel 8', os: 'Android', osVersion: '15', emulator: false, rooted: false },
        claims: { minor: false, guardianConsent: false, country: 'CN' }, money: { amount: 600, currency: 'CNY' }, sku: 'gems_600', quantity: 1,
        provider: 'sandbox', now: new Date(at + i),
      },
      noLists,
    );
  for (let i = 0; i < WARM_UP; i += 1) await decide('fresh', '203.0.113.9', i);
  const times: number[] = [];
  let userDay = 0;
  for (let i = 0; i < DECISIONS; i += 1) {
    const started = performance.now();
    const assessment = await decide('heavy', HEAVY_IP, i);
    times.push(performance.now() - started);
    userDay = (assessment.journal as { features: { velocity: { user_24h: number } } }).features.velocity.user_24h;
  }
  times.sort((a, b) => a - b);
  const quantile = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { p50: quantile(0.5), p99: quantile(0.99), max: times[times.length - 1], userDay };
}

export async function countersLine(redisUrl: string, prefix: string): Promise<string> {
  const start = Date.now() - DAY_MS + 60_000;
  const now = start + DAY_MS - 60_000;
  const hasher = new BlindIndex(randomBytes(32));
  const memory = new MemoryCounters();
  await fill(memory, hasher, start);
  const inProcess = await decisions(memory, hasher, now);
  const redis = new Redis(redisUrl);
  try {
    const shared = new RedisCounters({ redis, keyPrefix: prefix, timeoutMs: 5_000 });
    await fill(shared, hasher, start);
    const onRedis = await decisions(shared, hasher, now);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    const figure = (r: typeof inProcess) => `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(2)} ms (user_24h = ${r.userDay})`;
    return `counters: one user with ${HISTORY} events in 24 h decides in: in-process ${figure(inProcess)} · Redis ${figure(onRedis)} · goal ≤ 5 ms`;
  } finally {
    redis.disconnect();
  }
}
