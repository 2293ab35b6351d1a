/**
 * The velocity counters, declared once. Both stores (Redis, shared by every instance, and the in-process
 * one) are built from this list, so a new velocity feature is one line here plus its feature and rule.
 *
 * Every counter costs the same whatever a subject's history (no sorted set that grows with it):
 * - count / sum: a ring of RING_BUCKETS time buckets per window (1 s buckets for a minute, 1 min for an
 *   hour, 24 min for a day). The window is exact to one bucket: an event is counted for between
 *   (RING_BUCKETS − 1) and RING_BUCKETS buckets' time.
 * - distinct: each member with the time it was last seen, at most DISTINCT_CAP members (stale ones are
 *   dropped when full). Counts saturate at the cap, which lies far above any threshold worth a rule.
 */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const RING_BUCKETS = 60;
export const DISTINCT_CAP = 100;
/** A retry of one attempt within this long counts once (markers kept per hour, the current and the previous). */
export const ATTEMPT_MEMORY_MS = HOUR_MS;

export type CounterKind = 'count' | 'sum' | 'distinct';
/** Whose counter it is: the keyed hash of the user, the device or the IP address. */
export type CounterSubject = 'user' | 'device' | 'ip';

/** What one checkout tells the counters (all identifiers as keyed hashes). */
export interface CounterEvent {
  userKey: string;
  deviceKey: string;
  ipKey: string;
  money: { amount: number; currency: string };
}

export interface CounterSpec {
  name: string;
  key: CounterSubject;
  window: number;
  kind: CounterKind;
  /** What moves it: a checkout (the default) or a payment that failed at the provider. */
  on?: 'checkout' | 'failure';
  /** sum: what a checkout adds. */
  value?: (event: CounterEvent) => number;
  /** sum: kept apart per this (amounts in different currencies do not add up). */
  per?: (event: CounterEvent) => string;
  /** distinct: whose keyed hash is counted once. */
  member?: CounterSubject;
}

export const COUNTERS = [
  { name: 'user_1m', key: 'user', window: MINUTE_MS, kind: 'count' },
  { name: 'user_1h', key: 'user', window: HOUR_MS, kind: 'count' },
  { name: 'user_24h', key: 'user', window: DAY_MS, kind: 'count' },
  { name: 'device_1m', key: 'device', window: MINUTE_MS, kind: 'count' },
  { name: 'device_1h', key: 'device', window: HOUR_MS, kind: 'count' },
  { name: 'device_24h', key: 'device', window: DAY_MS, kind: 'count' },
  { name: 'ip_1m', key: 'ip', window: MINUTE_MS, kind: 'count' },
  { name: 'ip_1h', key: 'ip', window: HOUR_MS, kind: 'count' },
  { name: 'ip_24h', key: 'ip', window: DAY_MS, kind: 'count' },
  { name: 'user_amount_24h', key: 'user', window: DAY_MS, kind: 'sum', value: (e) => e.money.amount, per: (e) => e.money.currency },
  { name: 'user_failed_1h', key: 'user', window: HOUR_MS, kind: 'count', on: 'failure' },
  { name: 'device_users_24h', key: 'device', window: DAY_MS, kind: 'distinct', member: 'user' },
  { name: 'user_devices_24h', key: 'user', window: DAY_MS, kind: 'distinct', member: 'device' },
] as const satisfies readonly CounterSpec[];

export type CounterName = (typeof COUNTERS)[number]['name'];
export type CounterValues = Record<CounterName, number>;

/**
 * One operation on one counter: `step` is what this event adds (0 reads only) or, for distinct, the
 * member ('' reads only). `field` prefixes the ring's fields (the currency of a sum).
 */
export interface CounterOp {
  spec: CounterSpec;
  subjectKey: string;
  field: string;
  step: number | string;
}

const subjectKeyOf = (event: CounterEvent, subject: CounterSubject) =>
  subject === 'user' ? event.userKey : subject === 'device' ? event.deviceKey : event.ipKey;

/** A step that changes nothing: the counter is only read. */
export const readOnly = (op: CounterOp): CounterOp => ({ ...op, step: op.spec.kind === 'distinct' ? '' : 0 });

function checkoutStep(spec: CounterSpec, event: CounterEvent): number | string {
  if (spec.kind === 'distinct') return subjectKeyOf(event, spec.member!);
  return spec.kind === 'sum' ? spec.value!(event) : 1;
}

/** The operations of one checkout: every counter read, and its own (not the failure counters) moved. */
export function checkoutOps(event: CounterEvent): CounterOp[] {
  return COUNTERS.map((spec: CounterSpec) => {
    const op = { spec, subjectKey: subjectKeyOf(event, spec.key), field: spec.per ? spec.per(event) : '', step: checkoutStep(spec, event) };
    return spec.on === 'failure' ? readOnly(op) : op;
  });
}

const SUBJECT_TAGS: Record<CounterSubject, string> = { user: 'u', device: 'd', ip: 'i' };

/**
 * Key layout, shared by both stores: every key of one subject carries the same `{…}` hash tag, so in a
 * Redis Cluster they live in one slot and one script may touch them all.
 */
export const subjectTag = (subject: CounterSubject, subjectKey: string) => `{${SUBJECT_TAGS[subject]}:${subjectKey}}`;
export const counterKey = (op: CounterOp) => `${subjectTag(op.spec.key, op.subjectKey)}:${op.spec.name}`;
export const locationKey = (userKey: string) => `${subjectTag('user', userKey)}:loc`;
/** This hour's and the previous hour's attempt markers of a subject. */
export const attemptKeys = (subject: CounterSubject, subjectKey: string, at: number): [string, string] => {
  const hour = attemptHour(at);
  return [`${subjectTag(subject, subjectKey)}:seen:${hour}`, `${subjectTag(subject, subjectKey)}:seen:${hour - 1}`];
};

/** Every key a user's own counters may have (user_devices and the rest), for erasure. */
export function userKeys(userKey: string, at: number): string[] {
  const own = COUNTERS.filter((spec: CounterSpec) => spec.key === 'user').map((spec) => `${subjectTag('user', userKey)}:${spec.name}`);
  return [...own, locationKey(userKey), ...attemptKeys('user', userKey, at)];
}

/**
 * Where a user is a member of another subject's distinct count (a device's users), found through the user's
 * own distinct count of those subjects (the user's devices): what erasure must also remove the user from.
 */
export function userMemberships(userKey: string): Array<{ listedIn: string; foreignKey: (subjectKey: string) => string }> {
  const specs: readonly CounterSpec[] = COUNTERS;
  return specs
    .filter((spec) => spec.kind === 'distinct' && spec.key !== 'user' && spec.member === 'user')
    .flatMap((spec) => {
      const listing = specs.find((own) => own.kind === 'distinct' && own.key === 'user' && own.member === spec.key);
      if (!listing) return [];
      return [{ listedIn: `${subjectTag('user', userKey)}:${listing.name}`, foreignKey: (subjectKey: string) => `${subjectTag(spec.key, subjectKey)}:${spec.name}` }];
    });
}

/** The ops of one event, by subject: each group is one script call, all of its keys in one slot. */
export function bySubject(ops: CounterOp[]): CounterOp[][] {
  const groups = new Map<string, CounterOp[]>();
  for (const op of ops) {
    const tag = subjectTag(op.spec.key, op.subjectKey);
    groups.set(tag, [...(groups.get(tag) ?? []), op]);
  }
  return [...groups.values()];
}

/** The operations of a failed payment: its counters moved, nothing read. */
export function failureOps(userKey: string): CounterOp[] {
  return COUNTERS.filter((spec: CounterSpec) => spec.on === 'failure').map((spec) => ({ spec, subjectKey: userKey, field: '', step: 1 }));
}

export const bucketMs = (window: number) => window / RING_BUCKETS;
export const attemptHour = (at: number) => Math.floor(at / ATTEMPT_MEMORY_MS);
