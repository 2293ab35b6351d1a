import type { RiskInput } from './types';
import type { CounterSnapshot } from './counters';
import type { ListMatches } from './blocklist';
import { distanceKm } from './geo';
import type { TimedPoint } from './sealed-location';

/**
 * Everything a rule condition can read. Names are stable: rules files refer to them, and docs/risk.md lists
 * them. No feature carries a raw identifier: devices, users and IPs appear only as yes/no facts and counts.
 */
export interface RiskFeatures {
  amount: number;
  currency: string;
  sku: string;
  quantity: number;
  provider: string;
  user: {
    minor: boolean;
    guardian_consent: boolean;
    blocklisted: boolean;
    token_country: string;
    devices_24h: number;
    unverified_challenges_24h: number;
    reviews_24h: number;
  };
  device: {
    blocklisted: boolean;
    emulator: boolean;
    rooted: boolean;
    first_seen: boolean;
    users_24h: number;
    model: string;
    os: string;
    os_version: string;
  };
  ip: { blocklisted: boolean; country: string };
  velocity: {
    user_1m: number;
    user_1h: number;
    user_24h: number;
    device_1m: number;
    device_1h: number;
    device_24h: number;
    ip_1m: number;
    ip_1h: number;
    ip_24h: number;
    user_amount_24h: number;
    user_failed_1h: number;
  };
  location: { provided: boolean; country_mismatch: boolean; previous_known: boolean; distance_km: number; speed_kmh: number };
}

export type FeatureType = 'bool' | 'int' | 'double' | 'string';
export interface FeatureSpec {
  type: FeatureType;
  description: string;
}

type SpecsOf<T> = { [K in keyof T]: T[K] extends object ? SpecsOf<T[K]> : FeatureSpec };

const int = (description: string): FeatureSpec => ({ type: 'int', description });
const double = (description: string): FeatureSpec => ({ type: 'double', description });
const bool = (description: string): FeatureSpec => ({ type: 'bool', description });
const text = (description: string): FeatureSpec => ({ type: 'string', description });

/** The type and meaning of every feature: drives rule type-checking, the CEL context and the docs test. */
export const FEATURE_SPECS: SpecsOf<RiskFeatures> = {
  amount: int('checkout amount in the currency\'s minor unit (fen, cents; yen for JPY)'),
  currency: text('ISO 4217 code, upper case'),
  sku: text('catalog item'),
  quantity: int('items bought'),
  provider: text('sandbox, stripe or alipay'),
  user: {
    minor: bool('the token says the user is a minor'),
    guardian_consent: bool('the token says a guardian consented'),
    blocklisted: bool('the user is on the blocklist'),
    token_country: text('country claim of the token (ISO 3166 alpha-2), "" when absent'),
    devices_24h: int('distinct devices this user checked out from in 24 h, this one included'),
    unverified_challenges_24h: int('earlier payments of this user in 24 h still waiting for step-up verification'),
    reviews_24h: int('earlier payments of this user in 24 h that were sent to review'),
  },
  device: {
    blocklisted: bool('the device is on the blocklist'),
    emulator: bool('the app reports an emulator'),
    rooted: bool('the app reports a rooted / jailbroken device'),
    first_seen: bool('no earlier payment of this user from this device was paid or passed step-up'),
    users_24h: int('distinct users who checked out from this device in 24 h, this one included'),
    model: text('device model as the app reports it'),
    os: text('operating system name'),
    os_version: text('operating system version'),
  },
  ip: {
    blocklisted: bool('the IP address, or a range holding it, is on the blocklist'),
    country: text('country of the IP address from the bundled GeoIP data, "" when unknown (private, reserved)'),
  },
  velocity: {
    user_1m: int('checkout attempts by this user in the last minute, this one included'),
    user_1h: int('… in the last hour'),
    user_24h: int('… in the last 24 hours'),
    device_1m: int('checkout attempts from this device in the last minute, this one included'),
    device_1h: int('… in the last hour'),
    device_24h: int('… in the last 24 hours'),
    ip_1m: int('checkout attempts from this IP address in the last minute, this one included'),
    ip_1h: int('… in the last hour'),
    ip_24h: int('… in the last 24 hours'),
    user_amount_24h: int('sum of this user\'s checkout amounts in this currency over 24 h, this one included (minor units)'),
    user_failed_1h: int('payments of this user that failed at the provider in the last hour'),
  },
  location: {
    provided: bool('the app sent a location with this checkout'),
    country_mismatch: bool('the IP country and the token country are both known and differ'),
    previous_known: bool('this user sent a location with a checkout in the last 24 h'),
    distance_km: double('distance from that previous location (0 when either is missing)'),
    speed_kmh: double('distance divided by the time since then: the travel speed it implies (0 when unknown)'),
  },
};

export interface FeatureSignals {
  /** undefined when the counters could not be reached: velocity features read 0 and the fail mode applies. */
  counters?: CounterSnapshot;
  /** undefined when the blocklist lookup failed. */
  lists?: ListMatches;
  ipCountry?: string;
  /** The user's previous checkout location within 24 h, opened from the counters; undefined when none opens. */
  previousLocation?: TimedPoint;
}

const HOUR_MS = 3_600_000;

function travel(input: RiskInput, previous: TimedPoint | undefined): RiskFeatures['location'] {
  const here = input.location;
  const base = { provided: here !== undefined, previous_known: previous !== undefined, country_mismatch: false };
  if (!here || !previous) return { ...base, distance_km: 0, speed_kmh: 0 };
  const km = distanceKm(previous, here);
  // A clock tie would divide by zero; one second is the finest time the journal needs.
  const hours = Math.max(input.now.getTime() - previous.at, 1_000) / HOUR_MS;
  return { ...base, distance_km: round(km), speed_kmh: round(km / hours) };
}

const round = (value: number) => Math.round(value * 10) / 10;

export function computeFeatures(input: RiskInput, signals: FeatureSignals): RiskFeatures {
  const { counters, lists } = signals;
  const tokenCountry = input.claims.country ?? '';
  const ipCountry = signals.ipCountry ?? '';
  const location = travel(input, signals.previousLocation);
  location.country_mismatch = tokenCountry !== '' && ipCountry !== '' && tokenCountry !== ipCountry;
  return {
    amount: input.money.amount,
    currency: input.money.currency,
    sku: input.sku,
    quantity: input.quantity,
    provider: input.provider,
    user: {
      minor: input.claims.minor,
      guardian_consent: input.claims.guardianConsent,
      blocklisted: lists?.user ?? false,
      token_country: tokenCountry,
      devices_24h: counters?.values.user_devices_24h ?? 0,
      unverified_challenges_24h: lists?.unverifiedChallenges24h ?? 0,
      reviews_24h: lists?.reviews24h ?? 0,
    },
    device: {
      blocklisted: lists?.device ?? false,
      emulator: input.device.emulator,
      rooted: input.device.rooted,
      first_seen: lists ? !lists.deviceKnownForUser : false,
      users_24h: counters?.values.device_users_24h ?? 0,
      model: input.device.model,
      os: input.device.os,
      os_version: input.device.osVersion,
    },
    ip: { blocklisted: lists?.ip ?? false, country: ipCountry },
    velocity: {
      user_1m: counters?.values.user_1m ?? 0,
      user_1h: counters?.values.user_1h ?? 0,
      user_24h: counters?.values.user_24h ?? 0,
      device_1m: counters?.values.device_1m ?? 0,
      device_1h: counters?.values.device_1h ?? 0,
      device_24h: counters?.values.device_24h ?? 0,
      ip_1m: counters?.values.ip_1m ?? 0,
      ip_1h: counters?.values.ip_1h ?? 0,
      ip_24h: counters?.values.ip_24h ?? 0,
      user_amount_24h: counters?.values.user_amount_24h ?? 0,
      user_failed_1h: counters?.values.user_failed_1h ?? 0,
    },
    location,
  };
}

/** CEL ints are BigInts: converts the plain numbers of `features` per FEATURE_SPECS. */
export function toCelContext(features: RiskFeatures): Record<string, unknown> {
  return convert(features as unknown as Record<string, unknown>, FEATURE_SPECS as unknown as SpecTree);
}

type SpecTree = { [name: string]: FeatureSpec | SpecTree };

const isSpec = (node: FeatureSpec | SpecTree): node is FeatureSpec => typeof (node as FeatureSpec).type === 'string';

function convert(values: Record<string, unknown>, specs: SpecTree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = values[name];
    if (!isSpec(spec)) out[name] = convert(value as Record<string, unknown>, spec);
    else out[name] = spec.type === 'int' ? BigInt(Math.trunc(value as number)) : value;
  }
  return out;
}

/** Every feature as `dotted.name` → spec, in declaration order (docs and validation messages use it). */
export function listFeatures(specs: SpecTree = FEATURE_SPECS as unknown as SpecTree, prefix = ''): Array<[string, FeatureSpec]> {
  return Object.entries(specs).flatMap(([name, spec]) =>
    isSpec(spec) ? [[`${prefix}${name}`, spec] as [string, FeatureSpec]] : listFeatures(spec, `${prefix}${name}.`),
  );
}

/** The CEL variable declarations: top-level scalars as typed variables, groups as typed schemas. */
export function celDeclarations(): Array<{ name: string; type?: FeatureType; schema?: Record<string, FeatureType> }> {
  return Object.entries(FEATURE_SPECS as unknown as SpecTree).map(([name, spec]) =>
    isSpec(spec)
      ? { name, type: spec.type }
      : { name, schema: Object.fromEntries(Object.entries(spec).map(([field, s]) => [field, (s as FeatureSpec).type])) },
  );
}
