import {
  attemptKeys,
  bucketMs,
  bySubject,
  checkoutOps,
  CounterName,
  CounterOp,
  CounterValues,
  counterKey,
  DAY_MS,
  DISTINCT_CAP,
  failureOps,
  HOUR_MS,
  locationKey,
  MINUTE_MS,
  readOnly,
  RING_BUCKETS,
  userKeys,
  userMemberships,
} from './counter-specs';

/**
 * Velocity counters for one checkout, built from the declarations in counter-specs.ts. Keys are keyed
 * hashes (the blind index of user, device and IP), never raw identifiers. Two stores: Redis (shared by
 * every gateway instance) and in-process; both run the same algorithm, so they answer the same.
 */
export interface CheckoutObservation {
  at: number;
  /** The same for every retry of one request: a retry within ATTEMPT_MEMORY_MS moves no counter again. */
  attemptId: string;
  userKey: string;
  deviceKey: string;
  ipKey: string;
  money: { amount: number; currency: string };
  /** This checkout's location, sealed for this user (see LocationSeal): opaque to the counters. */
  sealedLocation?: string;
}

export interface CounterSnapshot {
  /** Every declared counter by name, this checkout included. */
  values: CounterValues;
  /** The user's previous checkout location within 24 h, as sealed then: only the engine can open it. */
  previousSealedLocation?: string;
}

export interface RiskCounters {
  /** Counts this checkout and answers every counter, this checkout included. Throws when the store is unreachable. */
  observe(observation: CheckoutObservation): Promise<CounterSnapshot>;
  /** Counts a payment that failed at the provider (every decline counts: card testing retries one payment many times). */
  recordFailure(userKey: string, at: number): Promise<void>;
  /** Deletes every counter key of this user (erasure); counters of devices and IPs forget them within 24 h. */
  forgetUser(userHash: string): Promise<void>;
  close(): Promise<void>;
}

export { DAY_MS, HOUR_MS, MINUTE_MS };

/** What one subject's script call (or its in-process twin) is handed and answers. */
export interface SubjectCall {
  at: number;
  /** '' for an event that is never a repeat (a failure). */
  attemptId: string;
  markers: [string, string];
  /** The user's call only: the location key and this checkout's sealed location ('' for none). */
  location?: { key: string; sealed: string };
  ops: CounterOp[];
}

export function subjectCalls(o: CheckoutObservation): SubjectCall[] {
  return bySubject(checkoutOps(o)).map((ops) => ({
    at: o.at,
    attemptId: o.attemptId,
    markers: attemptKeys(ops[0].spec.key, ops[0].subjectKey, o.at),
    location: ops[0].spec.key === 'user' ? { key: locationKey(o.userKey), sealed: o.sealedLocation ?? '' } : undefined,
    ops,
  }));
}

export function failureCall(userKey: string, at: number): SubjectCall {
  return { at, attemptId: '', markers: attemptKeys('user', userKey, at), ops: failureOps(userKey) };
}

/** Assembles the snapshot from the calls' answers: the previous location, then one value per op. */
export function snapshotOf(calls: SubjectCall[], answers: Array<Array<string | number>>): CounterSnapshot {
  const values = {} as CounterValues;
  let previousSealedLocation: string | undefined;
  calls.forEach((call, i) => {
    const [location, ...counts] = answers[i];
    if (call.location && location) previousSealedLocation = String(location);
    call.ops.forEach((op, j) => {
      values[op.spec.name as CounterName] = Number(counts[j]);
    });
  });
  return { values, previousSealedLocation };
}

interface Entry {
  fields: Map<string, number>;
  text?: string;
  expiresAt: number;
}

/** The few Redis data operations the counters need, on process memory, with Redis's expiry semantics. */
class MemoryKeys {
  private readonly entries = new Map<string, Entry>();

  fields(key: string, now: number): Map<string, number> {
    return this.live(key, now)?.fields ?? new Map();
  }

  /** The key's fields for writing; the key's lifetime becomes `ttlMs` from `now`. */
  writable(key: string, now: number, ttlMs: number): Map<string, number> {
    const entry = this.live(key, now) ?? { fields: new Map<string, number>(), expiresAt: 0 };
    entry.expiresAt = now + ttlMs;
    this.entries.set(key, entry);
    return entry.fields;
  }

  text(key: string, now: number): string | undefined {
    return this.live(key, now)?.text;
  }

  setText(key: string, value: string, now: number, ttlMs: number): void {
    this.entries.set(key, { fields: new Map(), text: value, expiresAt: now + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  sweep(now: number): void {
    for (const key of [...this.entries.keys()]) this.live(key, now);
  }

  size(): { keys: number; fields: number; markers: number } {
    let fields = 0;
    let markers = 0;
    for (const [key, entry] of this.entries) {
      fields += entry.fields.size;
      if (key.includes(':seen:')) markers += entry.fields.size;
    }
    return { keys: this.entries.size, fields, markers };
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= now) this.entries.delete(key);
    return entry && entry.expiresAt > now ? entry : undefined;
  }
}

/**
 * A ring of RING_BUCKETS buckets with its running total: `<f>h` is the newest bucket, `<f>s` the total,
 * `<f>v<slot>` a bucket's part. Moving to a newer bucket subtracts the buckets that left the window, so a
 * checkout costs a few field operations, and at most RING_BUCKETS after a quiet spell. A bucket older than
 * the head (another instance's clock a little ahead) counts into the head.
 */
function ring(keys: MemoryKeys, key: string, op: CounterOp, now: number): number {
  const bucket = Math.floor(now / bucketMs(op.spec.window));
  const step = op.step as number;
  const read = keys.fields(key, now);
  let head = read.get(`${op.field}h`);
  let total = read.get(`${op.field}s`) ?? 0;
  let moved = step !== 0;
  const fields = () => keys.writable(key, now, op.spec.window);
  if (head === undefined || bucket - head >= RING_BUCKETS) {
    if (head !== undefined) for (let slot = 0; slot < RING_BUCKETS; slot += 1) read.delete(`${op.field}v${slot}`);
    head = bucket;
    total = 0;
    moved = true;
  } else if (bucket > head) {
    for (let b = head + 1; b <= bucket; b += 1) {
      const slot = `${op.field}v${b % RING_BUCKETS}`;
      const gone = read.get(slot);
      if (gone === undefined) continue;
      total -= gone;
      read.delete(slot);
    }
    head = bucket;
    moved = true;
  }
  if (step !== 0) {
    const slot = `${op.field}v${head % RING_BUCKETS}`;
    fields().set(slot, (read.get(slot) ?? 0) + step);
    total += step;
  }
  if (moved) fields().set(`${op.field}h`, head).set(`${op.field}s`, total);
  return total;
}

/** Members with the time they were last seen; a new member finds room by dropping stale ones, else is not added. */
function distinct(keys: MemoryKeys, key: string, op: CounterOp, now: number): number {
  const since = now - op.spec.window;
  const member = op.step as string;
  if (member !== '') {
    const fields = keys.writable(key, now, op.spec.window);
    if (!fields.has(member) && fields.size >= DISTINCT_CAP) for (const [seen, at] of fields) if (at <= since) fields.delete(seen);
    if (fields.has(member) || fields.size < DISTINCT_CAP) fields.set(member, now);
  }
  let count = 0;
  for (const at of keys.fields(key, now).values()) if (at > since) count += 1;
  return count;
}

/** Counters for a single gateway process (no REDIS_URL): the same algorithm as the Redis script, on memory. */
export class MemoryCounters implements RiskCounters {
  private readonly keys = new MemoryKeys();
  private lastSweep = 0;

  async observe(o: CheckoutObservation): Promise<CounterSnapshot> {
    this.sweepNowAndThen(o.at);
    const calls = subjectCalls(o);
    return snapshotOf(calls, calls.map((call) => this.run(call)));
  }

  async recordFailure(userKey: string, at: number): Promise<void> {
    this.run(failureCall(userKey, at));
  }

  async forgetUser(userHash: string): Promise<void> {
    const now = Date.now();
    for (const { listedIn, foreignKey } of userMemberships(userHash)) {
      for (const subjectKey of this.keys.fields(listedIn, now).keys()) this.keys.fields(foreignKey(subjectKey), now).delete(userHash);
    }
    for (const key of userKeys(userHash, now)) this.keys.delete(key);
  }

  async close(): Promise<void> {}

  /** What the store holds (keys, hash fields, of them attempt markers): bounded per subject, whatever the history. */
  size(): { keys: number; fields: number; markers: number } {
    return this.keys.size();
  }

  /** One subject's call, exactly as the Redis script runs it (see redis-counters.ts). */
  private run(call: SubjectCall): Array<string | number> {
    const now = call.at;
    const [current, previous] = call.markers;
    const repeat = call.attemptId !== '' && (this.keys.fields(current, now).has(call.attemptId) || this.keys.fields(previous, now).has(call.attemptId));
    if (call.attemptId !== '' && !repeat) this.keys.writable(current, now, 2 * HOUR_MS).set(call.attemptId, 1);
    let location = '';
    if (call.location) {
      location = this.keys.text(call.location.key, now) ?? '';
      if (call.location.sealed !== '' && !repeat) this.keys.setText(call.location.key, call.location.sealed, now, DAY_MS);
    }
    const counts = call.ops.map((given) => {
      const op = repeat ? readOnly(given) : given;
      return op.spec.kind === 'distinct' ? distinct(this.keys, counterKey(op), op, now) : ring(this.keys, counterKey(op), op, now);
    });
    return [location, ...counts];
  }

  /** Keys of subjects who went quiet would otherwise stay forever: a full sweep once a minute bounds memory. */
  private sweepNowAndThen(now: number): void {
    if (now - this.lastSweep < MINUTE_MS) return;
    this.lastSweep = now;
    this.keys.sweep(now);
  }
}

