import Redis from 'ioredis';
import { SUPPORTED_CURRENCIES } from '../shared/money';
import { CheckoutObservation, CounterSnapshot, DAY_MS, HOUR_MS, MINUTE_MS, RiskCounters, WindowCounts } from './counters';

/**
 * One Lua script per checkout: every window is updated and read in a single round trip, atomically, so
 * concurrent checkouts on different gateway instances see each other's attempts. Attempts are sorted-set
 * members scored by time (sliding windows); amounts ride in the member as `attempt:amount`.
 *
 * KEYS: user, device, ip attempts · user amounts (this currency) · user failures · device→users · user→devices · user location
 * ARGV: now, attempt id, amount, user key, device key, this checkout's sealed location or ""
 * The location arrives sealed and leaves sealed: the script only swaps the stored value.
 */
const OBSERVE_SCRIPT = `
local now = tonumber(ARGV[1])
local minute, hour, day = ${MINUTE_MS}, ${HOUR_MS}, ${DAY_MS}
local out = {}
local function log(key, member, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
for i = 1, 3 do
  log(KEYS[i], ARGV[2], day)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. (now - minute), '+inf')
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. (now - hour), '+inf')
  out[#out + 1] = redis.call('ZCARD', KEYS[i])
end
log(KEYS[4], ARGV[2] .. ':' .. ARGV[3], day)
local total = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  total = total + tonumber(string.match(member, ':(%d+)$'))
end
out[#out + 1] = tostring(total)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - hour)
out[#out + 1] = redis.call('ZCARD', KEYS[5])
log(KEYS[6], ARGV[4], day)
out[#out + 1] = redis.call('ZCARD', KEYS[6])
log(KEYS[7], ARGV[5], day)
out[#out + 1] = redis.call('ZCARD', KEYS[7])
out[#out + 1] = redis.call('GET', KEYS[8]) or ''
if ARGV[6] ~= '' then redis.call('SET', KEYS[8], ARGV[6], 'PX', day) end
return out
`;

const FAILURE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - ${HOUR_MS})
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ${HOUR_MS})
return 1
`;

type ObserveReply = Array<number | string>;

interface RiskRedis extends Redis {
  riskObserve(...args: Array<string | number>): Promise<ObserveReply>;
  riskFailure(...args: Array<string | number>): Promise<number>;
}

export interface RedisCountersOptions {
  /** The gateway's client: it must fail fast while disconnected (enableOfflineQueue: false), not queue. */
  redis: Redis;
  keyPrefix: string;
  /** Per checkout: an unresponsive Redis costs at most this long, then the fail mode applies. */
  timeoutMs: number;
}

function windowCounts(reply: ObserveReply, offset: number): WindowCounts {
  return { minute: Number(reply[offset]), hour: Number(reply[offset + 1]), day: Number(reply[offset + 2]) };
}

class CounterTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis counters did not answer within ${timeoutMs} ms`);
    this.name = 'CounterTimeoutError';
  }
}

export class RedisCounters implements RiskCounters {
  private readonly redis: RiskRedis;

  constructor(private readonly options: RedisCountersOptions) {
    this.redis = options.redis as RiskRedis;
    // defineCommand runs the script by SHA (EVALSHA) and loads it again after a Redis restart.
    this.redis.defineCommand('riskObserve', { numberOfKeys: 8, lua: OBSERVE_SCRIPT });
    this.redis.defineCommand('riskFailure', { numberOfKeys: 1, lua: FAILURE_SCRIPT });
  }

  async observe(o: CheckoutObservation): Promise<CounterSnapshot> {
    const key = (name: string) => `${this.options.keyPrefix}${name}`;
    const reply = await this.withinTimeout(
      this.redis.riskObserve(
        key(`att:u:${o.userKey}`),
        key(`att:d:${o.deviceKey}`),
        key(`att:i:${o.ipKey}`),
        key(`amt:u:${o.userKey}:${o.money.currency}`),
        key(`fail:u:${o.userKey}`),
        key(`users:d:${o.deviceKey}`),
        key(`devices:u:${o.userKey}`),
        key(`loc:u:${o.userKey}`),
        o.at,
        o.attemptId,
        o.money.amount,
        o.userKey,
        o.deviceKey,
        o.sealedLocation ?? '',
      ),
    );
    return {
      user: windowCounts(reply, 0),
      device: windowCounts(reply, 3),
      ip: windowCounts(reply, 6),
      userAmount24h: Number(reply[9]),
      userFailures1h: Number(reply[10]),
      deviceUsers24h: Number(reply[11]),
      userDevices24h: Number(reply[12]),
      previousSealedLocation: String(reply[13]) || undefined,
    };
  }

  async recordFailure(userKey: string, at: number, attemptId: string): Promise<void> {
    await this.withinTimeout(this.redis.riskFailure(`${this.options.keyPrefix}fail:u:${userKey}`, at, attemptId));
  }

  /** The user's own keys go; each device they used keeps its attempts but no longer lists them among its users. */
  async forgetUser(userKey: string): Promise<void> {
    const key = (name: string) => `${this.options.keyPrefix}${name}`;
    const devices = await this.redis.zrange(key(`devices:u:${userKey}`), 0, -1);
    const forget = this.redis.multi();
    for (const deviceKey of devices) forget.zrem(key(`users:d:${deviceKey}`), userKey);
    forget.del(
      key(`att:u:${userKey}`),
      key(`fail:u:${userKey}`),
      key(`devices:u:${userKey}`),
      key(`loc:u:${userKey}`),
      ...SUPPORTED_CURRENCIES.map((currency) => key(`amt:u:${userKey}:${currency}`)),
    );
    await forget.exec();
  }

  /** The client is the gateway's: closing it is the gateway's job. */
  async close(): Promise<void> {}

  /** The shared client's own command timeout may be looser than what a checkout can afford. */
  private withinTimeout<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CounterTimeoutError(this.options.timeoutMs)), this.options.timeoutMs);
    });
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
  }
}
