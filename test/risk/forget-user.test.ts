import Redis from 'ioredis';
import { CheckoutObservation, MemoryCounters, RiskCounters } from '../../src/risk/counters';
import { RedisCounters } from '../../src/risk/redis-counters';
import { deleteTestRedisKeys, redisExpected, testRedisUrl, uniquePrefix } from '../support/redis';

/** Erasure forgets a user's velocity counters in both stores; other users' counters are untouched. */
const observation = (userKey: string, attemptId: string, deviceKey = 'device-shared'): CheckoutObservation => ({
  at: Date.now(),
  attemptId,
  userKey,
  deviceKey,
  ipKey: 'ip-1',
  money: { amount: 600, currency: 'CNY' },
  sealedLocation: 'sealed-location',
});

async function forgetsOnlyThatUser(counters: RiskCounters) {
  await counters.observe(observation('user-a', 'pay_1'));
  await counters.recordFailure('user-a', Date.now());
  await counters.observe(observation('user-b', 'pay_2'));
  await counters.forgetUser('user-a');
  const other = await counters.observe(observation('user-b', 'pay_3'));
  expect(other).toMatchObject({ values: { user_24h: 2, user_amount_24h: 1200, device_users_24h: 1 }, previousSealedLocation: 'sealed-location' });
  const again = await counters.observe(observation('user-a', 'pay_4'));
  expect(again).toMatchObject({ values: { user_24h: 1, user_amount_24h: 600, user_failed_1h: 0, user_devices_24h: 1 } });
  expect(again.previousSealedLocation).toBeUndefined();
}

test('in-process counters forget a user', async () => {
  await forgetsOnlyThatUser(new MemoryCounters());
});

(redisExpected() ? test : test.skip)('Redis counters forget a user', async () => {
  const redis = new Redis(testRedisUrl());
  try {
    await forgetsOnlyThatUser(new RedisCounters({ redis, keyPrefix: uniquePrefix(), timeoutMs: 2_000 }));
  } finally {
    redis.disconnect();
    await deleteTestRedisKeys();
  }
});
