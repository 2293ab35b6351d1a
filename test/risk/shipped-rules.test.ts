import { DEFAULT_RULES_FILE } from '../../src/risk/settings';
import { evaluateRules, loadRuleSet } from '../../src/risk/rules';
import type { RiskFeatures } from '../../src/risk/features';
import { featuresWith, neutralFeatures } from './support';

const shipped = loadRuleSet(DEFAULT_RULES_FILE);

/** For every shipped rule: features on which it fires, and the closest features on which it does not. */
const cases: Record<string, { fires: RiskFeatures; quiet: RiskFeatures }> = {
  challenge_outstanding: { fires: featuresWith({ user: { unverified_challenges_24h: 1 } }), quiet: neutralFeatures() },
  review_outstanding: { fires: featuresWith({ user: { reviews_24h: 1 } }), quiet: neutralFeatures() },
  user_blocklisted: { fires: featuresWith({ user: { blocklisted: true } }), quiet: neutralFeatures() },
  device_blocklisted: { fires: featuresWith({ device: { blocklisted: true } }), quiet: neutralFeatures() },
  ip_blocklisted: { fires: featuresWith({ ip: { blocklisted: true } }), quiet: neutralFeatures() },
  emulator: { fires: featuresWith({ device: { emulator: true } }), quiet: neutralFeatures() },
  rooted_device: { fires: featuresWith({ device: { rooted: true } }), quiet: neutralFeatures() },
  device_shared_by_many_users: { fires: featuresWith({ device: { users_24h: 4 } }), quiet: featuresWith({ device: { users_24h: 3 } }) },
  user_on_many_devices: { fires: featuresWith({ user: { devices_24h: 4 } }), quiet: featuresWith({ user: { devices_24h: 3 } }) },
  new_device_large_amount: {
    fires: featuresWith({ device: { first_seen: true }, amount: 32800 }),
    quiet: featuresWith({ device: { first_seen: true }, amount: 6800 }),
  },
  user_burst: { fires: featuresWith({ velocity: { user_1m: 6 } }), quiet: featuresWith({ velocity: { user_1m: 5 } }) },
  user_hourly_attempts: { fires: featuresWith({ velocity: { user_1h: 21 } }), quiet: featuresWith({ velocity: { user_1h: 20 } }) },
  device_burst: { fires: featuresWith({ velocity: { device_1m: 6 } }), quiet: featuresWith({ velocity: { device_1m: 5 } }) },
  ip_burst: { fires: featuresWith({ velocity: { ip_1m: 31 } }), quiet: featuresWith({ velocity: { ip_1m: 30 } }) },
  ip_hourly_attempts_strict: { fires: featuresWith({ velocity: { ip_1h: 61 } }), quiet: featuresWith({ velocity: { ip_1h: 60 } }) },
  large_amount: {
    fires: featuresWith({ currency: 'USD', amount: 15000 }),
    quiet: featuresWith({ currency: 'JPY', amount: 15000 }),
  },
  daily_amount: {
    fires: featuresWith({ velocity: { user_amount_24h: 200001 } }),
    quiet: featuresWith({ velocity: { user_amount_24h: 200000 } }),
  },
  repeated_failures: { fires: featuresWith({ velocity: { user_failed_1h: 3 } }), quiet: featuresWith({ velocity: { user_failed_1h: 2 } }) },
  country_mismatch: { fires: featuresWith({ location: { country_mismatch: true } }), quiet: neutralFeatures() },
  impossible_travel: {
    fires: featuresWith({ location: { distance_km: 1200, speed_kmh: 1500 } }),
    // Fast but short: GPS jitter over a few seconds, not travel.
    quiet: featuresWith({ location: { distance_km: 40, speed_kmh: 5000 } }),
  },
  legacy_os: {
    fires: featuresWith({ device: { os: 'Android', os_version: '7.1' } }),
    quiet: featuresWith({ device: { os: 'Android', os_version: '14' } }),
  },
};

const hitIds = (features: RiskFeatures) => evaluateRules(shipped, features).hits.map((hit) => hit.rule);

describe('the shipped rules', () => {
  it('has a case for every rule in the file', () => {
    expect(Object.keys(cases).sort()).toEqual(shipped.rules.map((rule) => rule.id).sort());
  });

  it('leave an unremarkable checkout alone', () => {
    expect(evaluateRules(shipped, neutralFeatures())).toEqual({ decision: 'allow', score: 0, hits: [], reasonCodes: [] });
  });

  describe.each(shipped.rules.filter((rule) => rule.mode === 'enabled').map((rule) => [rule.id, rule] as const))('%s', (id, rule) => {
    it(`fires and decides ${rule.action}`, () => {
      const outcome = evaluateRules(shipped, cases[id].fires);
      expect(outcome.hits.map((hit) => hit.rule)).toEqual([id]);
      expect(outcome.decision).toBe(rule.action);
      expect(outcome.score).toBe(rule.score);
      expect(outcome.reasonCodes).toEqual([rule.reason]);
    });

    it('does not fire just short of its condition', () => {
      expect(hitIds(cases[id].quiet)).toEqual([]);
    });
  });

  it('shadow rule ip_hourly_attempts_strict is journaled as a shadow hit and changes nothing', () => {
    const outcome = evaluateRules(shipped, cases.ip_hourly_attempts_strict.fires);
    expect(outcome.hits).toEqual([expect.objectContaining({ rule: 'ip_hourly_attempts_strict', mode: 'shadow' })]);
    expect(outcome).toMatchObject({ decision: 'allow', score: 0, reasonCodes: [] });
    expect(hitIds(cases.ip_hourly_attempts_strict.quiet)).toEqual([]);
  });

  it('disabled rule legacy_os is not even evaluated', () => {
    expect(hitIds(cases.legacy_os.fires)).toEqual([]);
    expect(hitIds(cases.legacy_os.quiet)).toEqual([]);
  });

  it('block wins over review and challenge, and the score adds up', () => {
    const outcome = evaluateRules(shipped, featuresWith({ device: { rooted: true, emulator: true, blocklisted: true } }));
    expect(outcome.decision).toBe('block');
    expect(outcome.score).toBe(100);
    expect(outcome.reasonCodes).toEqual(['device_restricted', 'device_integrity']);
  });

  it('review wins over challenge', () => {
    expect(evaluateRules(shipped, featuresWith({ device: { rooted: true, emulator: true } })).decision).toBe('review');
  });

  it('raises the decision to review when challenges add up past the review score', () => {
    const outcome = evaluateRules(shipped, featuresWith({ device: { rooted: true }, velocity: { user_1m: 6, user_failed_1h: 3 } }));
    expect(outcome.score).toBe(80);
    expect(outcome.decision).toBe('review');
  });
});
