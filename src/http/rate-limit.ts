import type { NextFunction, Request, Response } from 'express';
import type Redis from 'ioredis';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '../shared/errors';

export interface RateLimitOptions {
  redis?: Redis;
  ipPerMinute: number;
  userPerMinute: number;
  /** Start of every key in Redis (then `ip:` or `user:`), so deployments sharing a Redis keep separate budgets. */
  keyPrefix: string;
  /** Keys are keyed hashes: Redis never holds a raw IP or user id. */
  hashKey: (kind: 'ip' | 'user', value: string) => string;
  /** Told of every refusal (for the refusals metric). */
  onRefused?: (scope: 'ip' | 'user') => void;
}

export function limiter(redis: Redis | undefined, keyPrefix: string, points: number, duration = 60): RateLimiterAbstract {
  const memory = new RateLimiterMemory({ keyPrefix, points, duration });
  if (!redis) return memory;
  // If Redis is unreachable, each instance falls back to its own in-process budget instead of failing requests.
  return new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, insuranceLimiter: memory });
}

function tooMany(rejection: RateLimiterRes): ApiError {
  const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
  return new ApiError(429, 'rate_limit_error', 'rate_limited', `Too many requests; retry in ${seconds} s.`, {
    headers: { 'Retry-After': String(seconds) },
  });
}

/** Spends one point of `key`; a refusal is a 429 with Retry-After (and is told to `refused`). */
export async function consume(limit: RateLimiterAbstract, key: string, refused?: () => void): Promise<void> {
  try {
    await limit.consume(key);
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    refused?.();
    throw tooMany(rejection);
  }
}

export function createRateLimits(options: RateLimitOptions) {
  const perIp = limiter(options.redis, `${options.keyPrefix}ip`, options.ipPerMinute);
  const perUser = limiter(options.redis, `${options.keyPrefix}user`, options.userPerMinute);
  const spendIp = (ip: string | undefined) => consume(perIp, options.hashKey('ip', ip ?? 'unknown'), () => options.onRefused?.('ip'));
  const spendUser = (userId: string) => consume(perUser, options.hashKey('user', userId), () => options.onRefused?.('user'));
  return {
    byIp: async (req: Request, _res: Response, next: NextFunction) => {
      await spendIp(req.ip);
      next();
    },
    /** Runs after authentication, so it counts the verified subject. */
    byUser: async (_req: Request, res: Response, next: NextFunction) => {
      await spendUser((res.locals.user as { id: string }).id);
      next();
    },
    /**
     * The user's budget, for a handler that spends it beside its own Redis work (one round trip) instead of
     * through `byUser`. The IP's budget stays with `byIp`, before anything else: it is what holds off a flood
     * of requests that never authenticate or never pass validation.
     */
    admitUser: (userId: string): Promise<void> => spendUser(userId),
  };
}
