/**
 * Velocity counters for one checkout. Keys are keyed hashes (the blind index of user, device and IP),
 * never raw identifiers. Two implementations: Redis (shared by every gateway instance) and in-process.
 */
export interface CheckoutObservation {
  at: number;
  /** Unique per attempt (the payment id): a sliding-window member, so a retry of the same call counts once. */
  attemptId: string;
  userKey: string;
  deviceKey: string;
  ipKey: string;
  money: { amount: number; currency: string };
  /** This checkout's location, sealed for this user (see LocationSeal): opaque to the counters. */
  sealedLocation?: string;
}

export interface WindowCounts {
  minute: number;
  hour: number;
  day: number;
}

export interface CounterSnapshot {
  user: WindowCounts;
  device: WindowCounts;
  ip: WindowCounts;
  userAmount24h: number;
  userFailures1h: number;
  deviceUsers24h: number;
  userDevices24h: number;
  /** The user's previous checkout location within 24 h, as sealed then: only the engine can open it. */
  previousSealedLocation?: string;
}

export interface RiskCounters {
  /** Counts this checkout and answers the windows, this checkout included. Throws when the store is unreachable. */
  observe(observation: CheckoutObservation): Promise<CounterSnapshot>;
  recordFailure(userKey: string, at: number, attemptId: string): Promise<void>;
  /** Erasure: drops every counter kept for this user, and the user from the devices' user sets. */
  forgetUser(userKey: string): Promise<void>;
  close(): Promise<void>;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

interface Entry {
  at: number;
  member: string;
  value: number;
}

/** A sliding log per key: entries older than the window are dropped on every touch. */
class SlidingLog {
  private readonly logs = new Map<string, Entry[]>();

  constructor(private readonly windowMs: number) {}

  /** Adds (or refreshes, when `member` is already there) an entry and returns the pruned log. */
  touch(key: string, entry: Entry): Entry[] {
    const kept = this.read(key, entry.at).filter((existing) => existing.member !== entry.member);
    kept.push(entry);
    this.logs.set(key, kept);
    return kept;
  }

  read(key: string, now: number): Entry[] {
    const log = (this.logs.get(key) ?? []).filter((entry) => entry.at > now - this.windowMs);
    if (log.length === 0) this.logs.delete(key);
    else this.logs.set(key, log);
    return log;
  }

  sweep(now: number): void {
    for (const key of [...this.logs.keys()]) this.read(key, now);
  }

  keysStartingWith(prefix: string): string[] {
    return [...this.logs.keys()].filter((key) => key.startsWith(prefix));
  }

  members(key: string): string[] {
    return (this.logs.get(key) ?? []).map((entry) => entry.member);
  }

  forget(key: string, member?: string): void {
    const kept = member === undefined ? [] : (this.logs.get(key) ?? []).filter((entry) => entry.member !== member);
    if (kept.length === 0) this.logs.delete(key);
    else this.logs.set(key, kept);
  }
}

const since = (log: Entry[], from: number) => log.filter((entry) => entry.at > from).length;

function windows(log: Entry[], now: number): WindowCounts {
  return { minute: since(log, now - MINUTE_MS), hour: since(log, now - HOUR_MS), day: log.length };
}

/** Counters for a single gateway process (no REDIS_URL): the same windows, kept in memory. */
export class MemoryCounters implements RiskCounters {
  private readonly attempts = new SlidingLog(DAY_MS);
  private readonly amounts = new SlidingLog(DAY_MS);
  private readonly failures = new SlidingLog(HOUR_MS);
  private readonly pairs = new SlidingLog(DAY_MS);
  private readonly locations = new Map<string, { sealed: string; at: number }>();
  private lastSweep = 0;

  async observe(o: CheckoutObservation): Promise<CounterSnapshot> {
    this.sweepNowAndThen(o.at);
    const attempt = { at: o.at, member: o.attemptId, value: 0 };
    const amountLog = this.amounts.touch(`amount:${o.userKey}:${o.money.currency}`, { ...attempt, value: o.money.amount });
    const previous = this.locations.get(o.userKey);
    if (o.sealedLocation) this.locations.set(o.userKey, { sealed: o.sealedLocation, at: o.at });
    return {
      user: windows(this.attempts.touch(`user:${o.userKey}`, attempt), o.at),
      device: windows(this.attempts.touch(`device:${o.deviceKey}`, attempt), o.at),
      ip: windows(this.attempts.touch(`ip:${o.ipKey}`, attempt), o.at),
      userAmount24h: amountLog.reduce((sum, entry) => sum + entry.value, 0),
      userFailures1h: this.failures.read(o.userKey, o.at).length,
      deviceUsers24h: this.pairs.touch(`device-users:${o.deviceKey}`, { at: o.at, member: o.userKey, value: 0 }).length,
      userDevices24h: this.pairs.touch(`user-devices:${o.userKey}`, { at: o.at, member: o.deviceKey, value: 0 }).length,
      previousSealedLocation: previous && previous.at > o.at - DAY_MS ? previous.sealed : undefined,
    };
  }

  async recordFailure(userKey: string, at: number, attemptId: string): Promise<void> {
    this.failures.touch(userKey, { at, member: attemptId, value: 0 });
  }

  async forgetUser(userKey: string): Promise<void> {
    for (const deviceKey of this.pairs.members(`user-devices:${userKey}`)) this.pairs.forget(`device-users:${deviceKey}`, userKey);
    this.pairs.forget(`user-devices:${userKey}`);
    this.attempts.forget(`user:${userKey}`);
    for (const key of this.amounts.keysStartingWith(`amount:${userKey}:`)) this.amounts.forget(key);
    this.failures.forget(userKey);
    this.locations.delete(userKey);
  }

  async close(): Promise<void> {}

  /** Keys of users who went quiet would otherwise stay forever: a full sweep once a minute bounds memory. */
  private sweepNowAndThen(now: number): void {
    if (now - this.lastSweep < MINUTE_MS) return;
    this.lastSweep = now;
    for (const log of [this.attempts, this.amounts, this.failures, this.pairs]) log.sweep(now);
    for (const [key, location] of this.locations) if (location.at <= now - DAY_MS) this.locations.delete(key);
  }
}
