import type Redis from 'ioredis';
import type { Database, Sql } from '../db/database';
import { IdentifierHasher, matchLists } from './blocklist';
import { MemoryCounters, RiskCounters } from './counters';
import { computeFeatures, RiskFeatures } from './features';
import { ipCountry, normaliseIp } from './geo';
import type { JournalEntry } from './journal';
import { RedisCounters } from './redis-counters';
import { LOCATION_KEY_LABEL, LocationSeal } from './sealed-location';
import { BUILT_IN_REASONS, DEFAULT_HOW_TO_CONTEST, evaluateRules, loadRuleSet, mostSevere, RuleOutcome, RuleSet, RulesFileError } from './rules';
import type { RiskSettings } from './settings';
import { isUnconsentedMinor } from '../rights/minors';
import type { PaymentStatusChange, RiskAssessment, RiskInput, RiskRuntime, RuleReloadResult } from './types';

/** Logs carry error kinds only: a driver message could quote a value, and values may be personal. */
export interface RiskLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** The blind index: keyed hashes for identifiers, and the key material the engine's sealed location key derives from. */
export interface RiskKeys extends IdentifierHasher {
  deriveKey(label: string): Buffer;
}

export interface RiskEngineDeps {
  settings: RiskSettings;
  hasher: RiskKeys;
  counters: RiskCounters;
  logger?: RiskLogger;
}

const errorKind = (error: unknown) => ({ error: (error as Error)?.name ?? 'Error', code: (error as { code?: unknown })?.code });

/** Where the engine's own reasons (not a rule's) come from; the rules file may reword them. */
function explanationFor(ruleSet: RuleSet, codes: string[]): JournalEntry['explanation'] {
  const reasons = (codes.length > 0 ? codes : ['no_risk_signals']).map((code) => ({ code, description: ruleSet.reasons[code] }));
  return { reasons, how_to_contest: ruleSet.howToContest };
}

/**
 * The features as journaled: the rule inputs plus the keyed hashes they were computed for, never raw ids.
 * The device's model and OS are personal data (stored only encrypted, with the payment), so the journal
 * keeps the device's signals but not its description; the rule hits still say which rules fired.
 */
function journaledFeatures(features: RiskFeatures, keys: { user: string; device: string; ip: string }, degraded: string[]) {
  const { model: _model, os: _os, os_version: _osVersion, ...deviceSignals } = features.device;
  return { ...features, device: deviceSignals, keys, unavailable: degraded };
}

export class DefaultRiskEngine implements RiskRuntime {
  private ruleSet: RuleSet;
  private readonly locations: LocationSeal;

  constructor(
    private readonly deps: RiskEngineDeps,
    ruleSet: RuleSet = loadRuleSet(deps.settings.rulesFile),
  ) {
    this.ruleSet = ruleSet;
    this.locations = new LocationSeal(deps.hasher.deriveKey(LOCATION_KEY_LABEL));
  }

  get rulesetVersion(): string {
    return this.ruleSet.version;
  }

  async assess(input: RiskInput, sql: Sql): Promise<RiskAssessment> {
    const ruleSet = this.ruleSet; // one decision, one ruleset, even if a reload lands meanwhile
    const ip = normaliseIp(input.ipAddress);
    const keys = { user: input.userHash, device: input.device.hash, ip: this.deps.hasher.hash('ip', ip) };
    const degraded: string[] = [];
    const degrade = (what: string) => (error: unknown) => {
      degraded.push(what);
      this.deps.logger?.warn({ ...errorKind(error), source: what }, 'risk signal unavailable; fail mode applies');
      return undefined;
    };
    const at = input.now.getTime();
    // Sealed here and opened below: the counters only ever hold the location encrypted.
    // A minor's location is not kept without a guardian's consent (src/rights/minors.ts).
    const location = isUnconsentedMinor(input.claims) ? undefined : input.location;
    const sealedLocation = location && this.locations.seal(keys.user, location, at);
    const [counters, lists] = await Promise.all([
      this.deps.counters
        .observe({ at, attemptId: input.attemptId, userKey: keys.user, deviceKey: keys.device, ipKey: keys.ip, money: input.money, sealedLocation })
        .catch(degrade('counters')),
      matchLists(sql, { userHash: keys.user, deviceHash: keys.device, ipHash: keys.ip, ip }).catch(degrade('blocklists')),
    ]);
    const previousLocation = this.locations.open(keys.user, counters?.previousSealedLocation);
    const features = computeFeatures(input, { counters, lists, ipCountry: ipCountry(ip), previousLocation });
    const outcome = evaluateRules(ruleSet, features);
    // An enabled rule that errors on these inputs (an attacker-shaped os_version, say) must not fail open.
    for (const broken of outcome.hits.filter((hit) => hit.error && hit.mode === 'enabled')) {
      degraded.push(`rule:${broken.rule}`);
      this.deps.logger?.warn({ rule: broken.rule }, 'risk rule could not be evaluated; fail mode applies');
    }
    return this.decide(ruleSet, input, outcome, journaledFeatures(features, keys, degraded));
  }

  /** Rules first, then the fail mode, then the guardian policy, which no rules file can switch off. */
  private decide(ruleSet: RuleSet, input: RiskInput, outcome: RuleOutcome, features: ReturnType<typeof journaledFeatures>): RiskAssessment {
    const failMode = features.unavailable.length > 0;
    const guardianConsentRequired = input.claims.minor && !input.claims.guardianConsent;
    let decision = outcome.decision;
    const codes = [...outcome.reasonCodes];
    if (failMode) {
      decision = mostSevere(decision, this.deps.settings.failMode);
      codes.push('risk_checks_unavailable');
    }
    if (guardianConsentRequired) {
      decision = 'block';
      codes.unshift('guardian_consent_required');
    }
    const journal: JournalEntry = {
      stage: 'checkout',
      rulesetVersion: ruleSet.version,
      decision,
      score: outcome.score,
      failMode,
      features,
      hits: outcome.hits,
      explanation: explanationFor(ruleSet, codes),
    };
    return {
      decision,
      score: outcome.score,
      failMode,
      blockCode: decision !== 'block' ? undefined : guardianConsentRequired ? 'guardian_consent_required' : 'payment_blocked',
      journal,
    };
  }

  async paymentStatusChanged(change: PaymentStatusChange): Promise<void> {
    if (change.status !== 'failed') return;
    try {
      // Every decline counts, not once per payment: card testing declines one payment sheet many times.
      await this.deps.counters.recordFailure(change.userHash, Date.now());
    } catch (error) {
      this.deps.logger?.warn({ ...errorKind(error), source: 'counters' }, 'could not count a failed payment');
    }
  }

  async forgetUser(userHash: string): Promise<void> {
    await this.deps.counters.forgetUser(userHash);
  }

  reload(): RuleReloadResult {
    try {
      this.ruleSet = loadRuleSet(this.deps.settings.rulesFile);
      this.deps.logger?.info({ version: this.ruleSet.version }, 'risk rules reloaded');
      return { reloaded: true, version: this.ruleSet.version };
    } catch (error) {
      if (!(error instanceof RulesFileError)) throw error;
      this.deps.logger?.warn({ version: this.ruleSet.version, issues: error.issues }, 'risk rules file invalid; keeping the rules in force');
      return { reloaded: false, version: this.ruleSet.version, issues: error.issues };
    }
  }

  async close(): Promise<void> {
    await this.deps.counters.close();
  }
}

/**
 * RISK_ENABLED=false (the benchmark's baseline): no counters, no rules, no journal for allowed payments. The
 * guardian policy still holds, because it is the law rather than fraud control.
 */
export class DisabledRiskEngine implements RiskRuntime {
  readonly rulesetVersion = 'disabled';

  async assess(input: RiskInput): Promise<RiskAssessment> {
    if (!input.claims.minor || input.claims.guardianConsent) return { decision: 'allow', score: 0, journal: undefined };
    const journal: JournalEntry = {
      stage: 'checkout',
      rulesetVersion: this.rulesetVersion,
      decision: 'block',
      score: 0,
      failMode: false,
      features: {},
      hits: [],
      explanation: {
        reasons: [{ code: 'guardian_consent_required', description: BUILT_IN_REASONS.guardian_consent_required }],
        how_to_contest: DEFAULT_HOW_TO_CONTEST,
      },
    };
    return { decision: 'block', score: 0, blockCode: 'guardian_consent_required', journal };
  }

  reload(): RuleReloadResult {
    return { reloaded: true, version: this.rulesetVersion };
  }

  /** Nothing is counted while risk is disabled. */
  async forgetUser(): Promise<void> {}

  async close(): Promise<void> {}
}

export interface RiskEngineWiring {
  db: Database;
  /** The gateway's Redis client when REDIS_URL is set: counters shared by every instance. In-process otherwise. */
  redis?: Redis;
  logger?: RiskLogger;
  blindIndex: RiskKeys;
}

/** Start-up: an invalid rules file throws RulesFileError (one line per bad rule) and the service does not start. */
export function createRiskEngine(settings: RiskSettings, wiring: RiskEngineWiring): RiskRuntime {
  if (!settings.enabled) return new DisabledRiskEngine();
  const counters = wiring.redis ? new RedisCounters({ redis: wiring.redis, ...settings.redis }) : new MemoryCounters();
  return new DefaultRiskEngine({ settings, hasher: wiring.blindIndex, counters, logger: wiring.logger });
}
