import path from 'node:path';
import { z } from 'zod';
import { envBoolean, envInt, envString } from '../config/env';

export const RISK_DECISIONS = ['allow', 'challenge', 'review', 'block'] as const;

/** The rules shipped with the service (relative to the working directory, as in the image); RISK_RULES_FILE replaces them. */
export const DEFAULT_RULES_FILE = path.resolve('config/risk-rules.json');

/** Risk engine settings; owned by the risk domain. */
export const riskSettingsSchema = z
  .object({
    /** false only for the benchmark's baseline: every checkout is allowed (the minor/guardian policy still holds). */
    RISK_ENABLED: envBoolean(true),
    RISK_RULES_FILE: envString(),
    /** What a checkout gets when the shared counters (Redis) or the blocklist lookup cannot be reached. */
    RISK_FAIL_MODE: z.enum(RISK_DECISIONS).default('review'),
    /** Production refuses to run fail-open (RISK_FAIL_MODE=allow or RISK_ENABLED=false) unless this says it is meant. */
    RISK_FAIL_OPEN_ACKNOWLEDGED: envBoolean(false),
    /** Redis command timeout for the counters: an outage must cost a checkout milliseconds, not seconds. */
    RISK_REDIS_TIMEOUT_MS: envInt(150, 10, 5_000),
    /** Before every counter key, so deployments can share a Redis; no braces (the keys' `{…}` hash tags place them in Cluster slots). */
    RISK_REDIS_KEY_PREFIX: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^{}]+$/, 'must not contain { or }')
      .default('kp:risk:'),
    /** A step-up token passes when its `amr` lists this method… */
    RISK_STEP_UP_AMR: z.string().min(1).max(64).default('mfa'),
    /** …or, when set, when its `acr` equals this value. */
    RISK_STEP_UP_ACR: envString(),
    RISK_STEP_UP_MAX_AGE_SECONDS: envInt(300, 30, 3_600),
    RISK_STEP_UP_MAX_FAILURES: envInt(3, 1, 10),
  })
  .transform((env) => ({
    enabled: env.RISK_ENABLED,
    rulesFile: env.RISK_RULES_FILE ? path.resolve(env.RISK_RULES_FILE) : DEFAULT_RULES_FILE,
    failMode: env.RISK_FAIL_MODE,
    failOpenAcknowledged: env.RISK_FAIL_OPEN_ACKNOWLEDGED,
    redis: { timeoutMs: env.RISK_REDIS_TIMEOUT_MS, keyPrefix: env.RISK_REDIS_KEY_PREFIX },
    stepUp: {
      amr: env.RISK_STEP_UP_AMR,
      acr: env.RISK_STEP_UP_ACR,
      maxAgeSeconds: env.RISK_STEP_UP_MAX_AGE_SECONDS,
      maxFailures: env.RISK_STEP_UP_MAX_FAILURES,
    },
  }));

export type RiskSettings = z.infer<typeof riskSettingsSchema>;
export type StepUpSettings = RiskSettings['stepUp'];
