import { createHmac, randomBytes } from 'node:crypto';
import type { Sql } from '../../src/db/database';
import type { ListMatches } from '../../src/risk/blocklist';
import type { RiskFeatures } from '../../src/risk/features';
import { riskSettingsSchema, RiskSettings } from '../../src/risk/settings';
import type { RiskInput } from '../../src/risk/types';

/** Features of an unremarkable checkout: no shipped rule fires on them. */
export function neutralFeatures(): RiskFeatures {
  return {
    amount: 600,
    currency: 'CNY',
    sku: 'gems_60',
    quantity: 1,
    provider: 'sandbox',
    user: { minor: false, guardian_consent: false, blocklisted: false, token_country: 'CN', devices_24h: 1, unverified_challenges_24h: 0, reviews_24h: 0 },
    device: { blocklisted: false, emulator: false, rooted: false, first_seen: false, users_24h: 1, model: 'iPhone15,2', os: 'iOS', os_version: '17.4' },
    ip: { blocklisted: false, country: 'CN' },
    velocity: {
      user_1m: 1, user_1h: 1, user_24h: 1, device_1m: 1, device_1h: 1, device_24h: 1, ip_1m: 1, ip_1h: 1, ip_24h: 1,
      user_amount_24h: 600, user_failed_1h: 0,
    },
    location: { provided: false, country_mismatch: false, previous_known: false, distance_km: 0, speed_kmh: 0 },
  };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function featuresWith(patch: DeepPartial<RiskFeatures>): RiskFeatures {
  const base = neutralFeatures() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    base[key] = typeof value === 'object' ? { ...(base[key] as object), ...value } : value;
  }
  return base as unknown as RiskFeatures;
}

export const testHasher = (() => {
  const key = randomBytes(32);
  return {
    hash: (purpose: string, value: string) => createHmac('sha256', key).update(`${purpose}\u0000${value}`).digest('base64url'),
    deriveKey: (label: string) => createHmac('sha256', key).update(label).digest(),
  };
})();

export function settingsWith(env: Record<string, string> = {}): RiskSettings {
  return riskSettingsSchema.parse(env);
}

let sequence = 0;

/** A checkout from a fresh user and device (unique per call, so counters never collide between tests). */
export function anInput(overrides: Partial<RiskInput> = {}): RiskInput {
  sequence += 1;
  const tag = `${process.pid}-${Date.now()}-${sequence}`;
  return {
    paymentId: `pay_test${tag}`,
    attemptId: `attempt-${tag}`,
    userId: `user-${tag}`,
    userHash: testHasher.hash('user', `user-${tag}`),
    device: { id: `dev-${tag}`, hash: testHasher.hash('device', `dev-${tag}`), model: 'iPhone15,2', os: 'iOS', osVersion: '17.4', emulator: false, rooted: false },
    ipAddress: '114.114.114.114',
    claims: { minor: false, guardianConsent: false, country: 'CN' },
    money: { amount: 600, currency: 'CNY' },
    sku: 'gems_60',
    quantity: 1,
    provider: 'sandbox',
    now: new Date(),
    ...overrides,
  };
}

/** The database side of a checkout, answered from memory (store tests run on the real database). */
export function listsSql(matches: Partial<ListMatches> = {}): Sql {
  const row: ListMatches = { user: false, device: false, ip: false, deviceKnownForUser: true, unverifiedChallenges24h: 0, reviews24h: 0, ...matches };
  return {
    many: async () => [row] as never[],
    one: async () => row as never,
  };
}

export { redisExpected, testRedisUrl, uniquePrefix } from '../support/redis';
