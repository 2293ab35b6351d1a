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

/** The IP's point a deferred request still owes (`deferIp`): spent once, however often it is asked for. */
const OWED_IP = 'owedIpPoint';
type OwedPoint = () => Promise<void>;

export function createRateLimits(options: RateLimitOptions) {
  const perIp = limiter(options.redis, `${options.keyPrefix}ip`, options.ipPerMinute);
  const perUser = limiter(options.redis, `${options.keyPrefix}user`, options.userPerMinute);
  const spendIp = (ip: string | undefined) => consume(perIp, options.hashKey('ip', ip ?? 'unknown'), () => options.onRefused?.('ip'));
  const spendUser = (userId: string) => consume(perUser, options.hashKey('user', userId), () => options.onRefused?.('user'));
  const owedIp = (res: Response): OwedPoint | undefined => res.locals[OWED_IP];
  const spendOwedIp = async (res: Response): Promise<void> => owedIp(res)?.();
  return {
    /** Spends the IP's point before anything else, unless the route took it over (`deferIp`). */
    byIp: async (req: Request, res: Response, next: NextFunction) => {
      if (!owedIp(res)) await spendIp(req.ip);
      next();
    },
    /** Runs after authentication, so it counts the verified subject. */
    byUser: async (_req: Request, res: Response, next: NextFunction) => {
      await spendUser((res.locals.user as { id: string }).id);
      next();
    },
    /**
     * For a route that spends the IP's point beside its own Redis work, so that both go out in one round
     * trip (the checkout, with its risk counters): the point is left owing, for `admit` to spend, or for
     * `settleOwedIp` when the request is refused before then.
     */
    deferIp: (req: Request, res: Response, next: NextFunction) => {
      let spending: Promise<void> | undefined;
      const owed: OwedPoint = () => (spending ??= spendIp(req.ip));
      res.locals[OWED_IP] = owed;
      next();
    },
    /** The request's IP point (if it owes one) and the user's, issued in the same tick as the caller's own Redis commands. */
    admit: async (res: Response, userId: string): Promise<void> => {
      await Promise.all([spendOwedIp(res), spendUser(userId)]);
    },
    /**
     * An error handler: a request refused before it spent its owed point (no token, a malformed body) spends
     * it now, so a flood of requests that never authenticate or never pass validation is still held to the
     * IP's budget, and answered 429 once past it.
     */
    settleOwedIp: async (error: unknown, _req: Request, res: Response, next: NextFunction) => {
      await spendOwedIp(res);
      next(error);
    },
  };
}
