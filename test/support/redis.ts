import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/**
 * Tests use a Redis only when given one (TEST_REDIS_URL, as CI does): never whatever answers on
 * 127.0.0.1:6379, which may be someone else's. Tests that need one are skipped otherwise.
 */
export function redisExpected(): boolean {
  return Boolean(process.env.TEST_REDIS_URL);
}

export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is unset: guard Redis tests with redisExpected()');
  return url;
}

const prefixes = new Set<string>();

/** A key prefix no other test or test run shares; its keys are deleted by deleteTestRedisKeys. */
export function uniquePrefix(): string {
  const prefix = `kp:test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  prefixes.add(prefix);
  return prefix;
}

/** Deletes every key under the prefixes this test file handed out (or the ones given), so a run leaves nothing behind. */
export async function deleteTestRedisKeys(only: string[] = [...prefixes]): Promise<void> {
  if (!redisExpected() || only.length === 0) return;
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for (const prefix of only) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
      prefixes.delete(prefix);
    }
  } finally {
    redis.disconnect();
  }
}
