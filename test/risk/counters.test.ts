import fc from 'fast-check';
import Redis from 'ioredis';
import { COUNTERS, DAY_MS, DISTINCT_CAP, RING_BUCKETS } from '../../src/risk/counter-specs';
import { CheckoutObservation, MemoryCounters, RiskCounters, subjectCalls } from '../../src/risk/counters';
import { RedisCounters, scriptCall } from '../../src/risk/redis-counters';
import { redisExpected, testRedisUrl, uniquePrefix } from './support';

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag (the first non-empty `{…}`), or of the whole key, mod 16384. */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let sequence = 0;

function observation(overrides: Partial<CheckoutObservation> = {}): CheckoutObservation {
  sequence += 1;
  return {
    at: T0,
    attemptId: `attempt-${sequence}`,
    userKey: 'user-hash-a',
    deviceKey: 'device-hash-a',
    ipKey: 'ip-hash-a',
    money: { amount: 600, currency: 'CNY' },
    ...overrides,
  };
}

describe('Redis Cluster slots of the counter scripts', () => {
  it('computes slots as Redis does', () => {
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
  });

  it('puts every key of one script call in one slot, whatever the prefix and the hashes', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((p) => !/[{}]/.test(p)),
        fc.base64String({ minLength: 4, maxLength: 44 }),
        fc.base64String({ minLength: 4, maxLength: 44 }),
        fc.base64String({ minLength: 4, maxLength: 44 }),
        fc.boolean(),
        (prefix, userKey, deviceKey, ipKey, located) => {
          const calls = subjectCalls(observation({ userKey, deviceKey, ipKey, sealedLocation: located ? 'sealed' : undefined }));
          expect(calls).toHaveLength(3);
          for (const call of calls) {
            const slots = new Set(scriptCall(call, prefix).keys.map(clusterSlot));
            expect(slots.size).toBe(1);
          }
        },
      ),
    );
  });
});

describe('the in-process counters', () => {
  it('keep what they hold per user bounded, however long the history: the work per checkout does not grow with it', async () => {
    const light = new MemoryCounters();
    const heavy = new MemoryCounters();
    const history = async (counters: MemoryCounters, events: number) => {
      for (let i = 0; i < events; i += 1) await counters.observe(observation({ at: T0 + Math.floor((i * DAY_MS) / events) }));
    };
    await history(light, 50);
    await history(heavy, 20_000);
    const rings = COUNTERS.filter((spec) => spec.kind !== 'distinct').length;
    const distincts = COUNTERS.length - rings;
    for (const counters of [light, heavy]) {
      const held = counters.size();
      // one key per counter, plus each subject's attempt markers of the last hours (kept 2 h), plus the location
      expect(held.keys).toBeLessThanOrEqual(COUNTERS.length + 3 * 3 + 1);
      // ring fields bounded by the buckets; attempt markers by an hour of attempts
      expect(held.fields - held.markers).toBeLessThanOrEqual(rings * 2 * RING_BUCKETS + distincts * DISTINCT_CAP);
    }
    expect(heavy.size().keys).toBe(light.size().keys);
    const last = await heavy.observe(observation({ at: T0 + DAY_MS - 1 }));
    expect(last.values.user_24h).toBeGreaterThan(19_000);
  });

  it('count a retried attempt once', async () => {
    const counters = new MemoryCounters();
    const first = observation({ money: { amount: 500, currency: 'CNY' } });
    await counters.observe(first);
    const retried = await counters.observe({ ...first, at: T0 + 2_000 });
    expect(retried.values).toMatchObject({ user_1m: 1, device_1m: 1, ip_1m: 1, user_amount_24h: 500 });
  });
});

async function forgetsTheUser(counters: RiskCounters) {
  const user = `forget-${sequence}`;
  const now = Date.now();
  await counters.observe(observation({ userKey: user, deviceKey: `${user}-device`, at: now, sealedLocation: 'sealed-here' }));
  await counters.recordFailure(user, now);
  await counters.forgetUser(user);
  const after = await counters.observe(observation({ userKey: user, deviceKey: `${user}-device`, at: now + 1 }));
  expect(after.values).toMatchObject({ user_1m: 1, user_24h: 1, user_amount_24h: 600, user_failed_1h: 0, user_devices_24h: 1 });
  expect(after.previousSealedLocation).toBeUndefined();
  // the device's own counters are the device's: they still see the earlier checkout
  expect(after.values.device_1m).toBe(2);
}

it('in-process: forgetUser deletes every counter of that user', async () => {
  await forgetsTheUser(new MemoryCounters());
});

(redisExpected() ? describe : describe.skip)('the Redis counters', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(testRedisUrl(), { lazyConnect: true });
    await redis.connect();
  });
  afterAll(() => redis?.disconnect());

  const redisCounters = () => new RedisCounters({ redis, keyPrefix: uniquePrefix(), timeoutMs: 2_000 });

  it('forgetUser deletes every counter of that user', async () => {
    await forgetsTheUser(redisCounters());
  });

  it('give the same values as the in-process counters for the same history', async () => {
    const event = fc.record({
      dt: fc.oneof(fc.integer({ min: 0, max: 2_500 }), fc.integer({ min: 0, max: 30 * 60_000 })),
      kind: fc.constantFrom('checkout', 'checkout', 'checkout', 'retry', 'failure'),
      user: fc.integer({ min: 0, max: 2 }),
      device: fc.integer({ min: 0, max: 2 }),
      ip: fc.integer({ min: 0, max: 1 }),
      amount: fc.integer({ min: 1, max: 50_000 }),
      currency: fc.constantFrom('CNY', 'USD'),
      located: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 30 }), async (events) => {
        const run = `${sequence++}`;
        const memory = new MemoryCounters();
        const shared = redisCounters();
        let at = T0 + sequence * 7_919;
        let previous: CheckoutObservation | undefined;
        for (const e of events) {
          at += e.dt;
          if (e.kind === 'failure') {
            await memory.recordFailure(`u${run}-${e.user}`, at);
            await shared.recordFailure(`u${run}-${e.user}`, at);
            continue;
          }
          const o =
            e.kind === 'retry' && previous
              ? { ...previous, at }
              : observation({
                  at, userKey: `u${run}-${e.user}`, deviceKey: `d${run}-${e.device}`, ipKey: `i${run}-${e.ip}`,
                  money: { amount: e.amount, currency: e.currency }, sealedLocation: e.located ? `sealed-${at}` : undefined,
                });
          previous = o;
          expect(await shared.observe(o)).toEqual(await memory.observe(o));
        }
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
