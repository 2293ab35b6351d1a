import Redis from 'ioredis';
import { counterKey, DAY_MS, DISTINCT_CAP, HOUR_MS, RING_BUCKETS, userKeys, userMemberships } from './counter-specs';
import { CheckoutObservation, CounterSnapshot, failureCall, RiskCounters, snapshotOf, SubjectCall, subjectCalls } from './counters';

/**
 * One Lua script, called once per subject of a checkout (user, device, IP; the three calls are written
 * together, so they cost one round trip's time): it moves and reads every counter of that subject
 * atomically, so concurrent checkouts on different instances see each other. All keys of one call share
 * the subject's `{…}` hash tag, hence one Redis Cluster slot. The algorithm is MemoryCounters.run's, step
 * for step (a property test holds the two to the same answers); its cost does not grow with a history.
 *
 * KEYS: this hour's and the previous hour's attempt markers, [the user's location,] one key per counter
 * ARGV: now, attempt id ('' for none), '1' when a location key is passed, the sealed location ('' for none),
 *       then per counter: kind, window ms, field prefix, step
 * Answers: the previous sealed location ('' for none), then one value per counter.
 */
const COUNTERS_SCRIPT = `
local now = tonumber(ARGV[1])
local attempt = ARGV[2]
local buckets, cap, day = ${RING_BUCKETS}, ${DISTINCT_CAP}, ${DAY_MS}
local again = attempt ~= '' and (redis.call('HEXISTS', KEYS[1], attempt) == 1 or redis.call('HEXISTS', KEYS[2], attempt) == 1)
if attempt ~= '' and not again then
  redis.call('HSET', KEYS[1], attempt, 1)
  redis.call('PEXPIRE', KEYS[1], ${2 * HOUR_MS})
end
local out = {''}
local first = 3
if ARGV[3] == '1' then
  out[1] = redis.call('GET', KEYS[3]) or ''
  if ARGV[4] ~= '' and not again then redis.call('SET', KEYS[3], ARGV[4], 'PX', day) end
  first = 4
end

local function ring(key, window, field, step)
  local bucket = math.floor(now / (window / buckets))
  local state = redis.call('HMGET', key, field .. 'h', field .. 's')
  local head, total = tonumber(state[1]), tonumber(state[2]) or 0
  local moved = step ~= 0
  if head == nil or bucket - head >= buckets then
    if head ~= nil then
      for slot = 0, buckets - 1 do redis.call('HDEL', key, field .. 'v' .. slot) end
    end
    head, total, moved = bucket, 0, true
  elseif bucket > head then
    for b = head + 1, bucket do
      local slot = field .. 'v' .. (b % buckets)
      local gone = tonumber(redis.call('HGET', key, slot))
      if gone then total = total - gone; redis.call('HDEL', key, slot) end
    end
    head, moved = bucket, true
  end
  if step ~= 0 then
    redis.call('HINCRBY', key, field .. 'v' .. (head % buckets), step)
    total = total + step
  end
  if moved then
    redis.call('HSET', key, field .. 'h', head, field .. 's', total)
    redis.call('PEXPIRE', key, window)
  end
  return total
end

local function distinct(key, window, member)
  local since = now - window
  if member ~= '' then
    if redis.call('HEXISTS', key, member) == 0 and redis.call('HLEN', key) >= cap then
      local all = redis.call('HGETALL', key)
      for i = 1, #all, 2 do
        if tonumber(all[i + 1]) <= since then redis.call('HDEL', key, all[i]) end
      end
    end
    if redis.call('HEXISTS', key, member) == 1 or redis.call('HLEN', key) < cap then redis.call('HSET', key, member, now) end
    redis.call('PEXPIRE', key, window)
  end
  local count = 0
  for _, at in ipairs(redis.call('HVALS', key)) do
    if tonumber(at) > since then count = count + 1 end
  end
  return count
end

local a = 5
for k = first, #KEYS do
  local kind, window, field, step = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  if kind == 'distinct' then
    out[#out + 1] = distinct(KEYS[k], window, again and '' or step)
  else
    out[#out + 1] = ring(KEYS[k], window, field, again and 0 or tonumber(step))
  end
end
return out
`;

type Reply = Array<number | string>;

interface RiskRedis extends Redis {
  riskCounters(numberOfKeys: number, ...args: Array<string | number>): Promise<Reply>;
}

export interface RedisCountersOptions {
  /** The gateway's client: it must fail fast while disconnected (enableOfflineQueue: false), not queue. */
  redis: Redis;
  /** Prepended to every key (RISK_REDIS_KEY_PREFIX), so deployments can share one Redis. */
  keyPrefix: string;
  /** Per checkout: an unresponsive Redis costs at most this long, then the fail mode applies. */
  timeoutMs: number;
}

class CounterTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis counters did not answer within ${timeoutMs} ms`);
    this.name = 'CounterTimeoutError';
  }
}

/** The keys and arguments of one subject's script call, in the order COUNTERS_SCRIPT reads them. */
export function scriptCall(call: SubjectCall, keyPrefix: string): { keys: string[]; args: Array<string | number> } {
  const prefixed = (key: string) => `${keyPrefix}${key}`;
  const keys = [...call.markers, ...(call.location ? [call.location.key] : []), ...call.ops.map(counterKey)].map(prefixed);
  const args: Array<string | number> = [call.at, call.attemptId, call.location ? '1' : '0', call.location?.sealed ?? ''];
  for (const op of call.ops) args.push(op.spec.kind, op.spec.window, op.field, op.step);
  return { keys, args };
}

export class RedisCounters implements RiskCounters {
  private readonly redis: RiskRedis;

  constructor(private readonly options: RedisCountersOptions) {
    this.redis = options.redis as RiskRedis;
    // defineCommand runs the script by SHA (EVALSHA) and loads it again after a Redis restart.
    this.redis.defineCommand('riskCounters', { lua: COUNTERS_SCRIPT });
  }

  async observe(o: CheckoutObservation): Promise<CounterSnapshot> {
    const calls = subjectCalls(o);
    // Issued together: the client writes all three before the first answer is back.
    const answers = await this.withinTimeout(Promise.all(calls.map((call) => this.send(call))));
    return snapshotOf(calls, answers);
  }

  async recordFailure(userKey: string, at: number): Promise<void> {
    await this.withinTimeout(this.send(failureCall(userKey, at)));
  }

  /**
   * The user's own keys are known names under one hash tag: one DEL. The user is also removed from the
   * distinct counts of the devices they used (other slots: one HDEL each, not in a script).
   */
  async forgetUser(userHash: string): Promise<void> {
    const prefixed = (key: string) => `${this.options.keyPrefix}${key}`;
    for (const { listedIn, foreignKey } of userMemberships(userHash)) {
      const subjects = await this.redis.hkeys(prefixed(listedIn));
      await Promise.all(subjects.map((subjectKey) => this.redis.hdel(prefixed(foreignKey(subjectKey)), userHash)));
    }
    await this.redis.del(...userKeys(userHash, Date.now()).map(prefixed));
  }

  /** The client is the gateway's: closing it is the gateway's job. */
  async close(): Promise<void> {}

  private send(call: SubjectCall): Promise<Reply> {
    const { keys, args } = scriptCall(call, this.options.keyPrefix);
    return this.redis.riskCounters(keys.length, ...keys, ...args);
  }

  /** The shared client's own command timeout may be looser than what a checkout can afford. */
  private withinTimeout<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CounterTimeoutError(this.options.timeoutMs)), this.options.timeoutMs);
    });
    return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
  }
}
