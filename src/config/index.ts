import { z } from 'zod';
import path from 'node:path';
import { envBoolean, envOptionalBoolean, envInt, envSecret, envString, envUrl } from './env';
import { ConfigError, Env, parseSettings, SettingIssue, settingNamesOf } from './settings';
import { stripeSettingsSchema, StripeSettings } from '../providers/stripe/settings';
import { alipaySettingsSchema, AlipaySettings } from '../providers/alipay/settings';
import { riskSettingsSchema, RiskSettings } from '../risk/settings';
import { rightsSettingsSchema, RightsSettings } from '../rights/settings';
import { DEFAULT_JWKS_TIMEOUT_MS, importPublicKey } from '../auth/app-tokens';
import { jobsSettingsSchema, JobsSettings } from '../jobs/settings';
import { retentionSettingsSchema, RetentionSettings } from '../retention/settings';
import { staffSettingIssues, staffSettingsSchema, StaffSettings } from '../staff/settings';

export { ConfigError } from './settings';
export type { Env } from './settings';

/** Parsed while loading, so a bad key is one line naming the setting rather than a crypto error later. */
function isPublicKey(text: string): boolean {
  try {
    importPublicKey(text);
    return true;
  } catch {
    return false;
  }
}

const envPublicKey = () =>
  envString().refine((value) => value === undefined || isPublicKey(value), { message: 'must be an SPKI PEM public key or a JWK' });

const coreSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: envString(),
  PORT: envInt(8080, 0, 65535),
  PUBLIC_BASE_URL: envUrl(['http', 'https']),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: envInt(0, 0, 10),
  DATABASE_URL: envUrl(['postgres', 'postgresql']),
  DATABASE_POOL_SIZE: envInt(10, 1, 200),
  DATABASE_CONNECT_TIMEOUT_MS: envInt(5_000, 100, 60_000),
  DATA_DIR: z.string().default('./data'),
  ALLOW_EMBEDDED_DATABASE: envBoolean(false),
  ALLOW_GENERATED_KEYS: envBoolean(false),
  REDIS_URL: envUrl(['redis', 'rediss']),
  ENCRYPTION_KEYS: envString(),
  BLIND_INDEX_KEY: envString(),
  APP_JWT_ISSUER: envString(),
  APP_JWT_AUDIENCE: envString(),
  APP_JWKS_URL: envUrl(['http', 'https']),
  APP_JWKS_TIMEOUT_MS: envInt(DEFAULT_JWKS_TIMEOUT_MS, 100, 60_000),
  APP_JWT_PUBLIC_KEY: envPublicKey(),
  CATALOG_FILE: envString(),
  SANDBOX_ENABLED: envOptionalBoolean(),
  SANDBOX_WEBHOOK_SECRET: envSecret(16),
  SANDBOX_WEBHOOK_URL: envUrl(['http', 'https']),
  IDEMPOTENCY_TTL_HOURS: envInt(24, 24, 24 * 30),
  IDEMPOTENCY_WAIT_MS: envInt(15_000, 0, 60_000),
  RATE_LIMIT_IP_PER_MINUTE: envInt(600, 1, 1_000_000),
  RATE_LIMIT_USER_PER_MINUTE: envInt(120, 1, 1_000_000),
  RATE_LIMIT_REDIS_KEY_PREFIX: z.string().min(1).max(64).default('kalos:rl:'),
  SHUTDOWN_GRACE_MS: envInt(10_000, 0, 120_000),
  HTTP_HEADERS_TIMEOUT_MS: envInt(20_000, 100, 60_000),
  HTTP_BODY_IDLE_TIMEOUT_MS: envInt(15_000, 100, 30_000),
  HTTP_REQUEST_TIMEOUT_MS: envInt(120_000, 1_000, 600_000),
  RECONCILE_MIN_AGE_SECONDS: envInt(900, 0, 30 * 86_400),
  PAYMENT_EXPIRY_SECONDS: envInt(86_400, 60, 30 * 86_400),
});

export type Config = ReturnType<typeof buildConfig>;

interface DomainSettings {
  jobs: JobsSettings;
  retention: RetentionSettings;
  rights: RightsSettings;
  staff: StaffSettings;
}

function buildConfig(core: z.infer<typeof coreSchema>, stripe: StripeSettings, alipay: AlipaySettings, risk: RiskSettings, domains: DomainSettings) {
  const production = core.NODE_ENV === 'production';
  const port = core.PORT;
  return {
    env: core.NODE_ENV,
    production,
    host: core.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    port,
    publicBaseUrl: (core.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/$/, ''),
    logLevel: core.LOG_LEVEL,
    trustProxy: core.TRUST_PROXY,
    database: { url: core.DATABASE_URL, poolSize: core.DATABASE_POOL_SIZE, connectTimeoutMs: core.DATABASE_CONNECT_TIMEOUT_MS },
    dataDir: path.resolve(core.DATA_DIR),
    redisUrl: core.REDIS_URL,
    keys: {
      encryptionKeys: core.ENCRYPTION_KEYS,
      blindIndexKey: core.BLIND_INDEX_KEY,
      generatedAllowed: !production || core.ALLOW_GENERATED_KEYS,
    },
    auth: {
      issuer: core.APP_JWT_ISSUER ?? 'kalos-pay-embedded',
      audience: core.APP_JWT_AUDIENCE ?? 'kalos-pay',
      jwksUrl: core.APP_JWKS_URL,
      jwksTimeoutMs: core.APP_JWKS_TIMEOUT_MS,
      publicKey: core.APP_JWT_PUBLIC_KEY,
    },
    catalogFile: path.resolve(core.CATALOG_FILE ?? 'config/catalog.json'),
    sandbox: {
      enabled: core.SANDBOX_ENABLED ?? !production,
      webhookSecret: core.SANDBOX_WEBHOOK_SECRET,
      webhookUrl: core.SANDBOX_WEBHOOK_URL,
    },
    idempotencyTtlHours: core.IDEMPOTENCY_TTL_HOURS,
    idempotencyWaitMs: core.IDEMPOTENCY_WAIT_MS,
    rateLimit: { ipPerMinute: core.RATE_LIMIT_IP_PER_MINUTE, userPerMinute: core.RATE_LIMIT_USER_PER_MINUTE, redisKeyPrefix: core.RATE_LIMIT_REDIS_KEY_PREFIX },
    shutdownGraceMs: core.SHUTDOWN_GRACE_MS,
    http: {
      headersTimeoutMs: core.HTTP_HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: core.HTTP_BODY_IDLE_TIMEOUT_MS,
      requestTimeoutMs: core.HTTP_REQUEST_TIMEOUT_MS,
    },
    reconcileMinAgeSeconds: core.RECONCILE_MIN_AGE_SECONDS,
    paymentExpirySeconds: core.PAYMENT_EXPIRY_SECONDS,
    stripe,
    alipay,
    risk,
    ...domains,
  };
}

const isSet = (value: string | undefined) => value !== undefined && value.trim() !== '';
const isTrue = (value: string | undefined) => /^(1|true|yes|on)$/i.test(value?.trim() ?? '');

/**
 * Production refuses the conveniences meant for a laptop unless they are switched on by name. Reads the raw
 * environment, so these lines are reported together with any malformed setting, not on the next start.
 */
function productionIssues(env: Env): SettingIssue[] {
  if (env.NODE_ENV !== 'production') return [];
  const issues: SettingIssue[] = [];
  if (!isSet(env.PUBLIC_BASE_URL)) {
    issues.push({ setting: 'PUBLIC_BASE_URL', message: 'is required in production: the URLs handed to apps are built from it' });
  }
  if (!isSet(env.DATABASE_URL) && !isTrue(env.ALLOW_EMBEDDED_DATABASE)) {
    issues.push({ setting: 'DATABASE_URL', message: 'is required in production (or set ALLOW_EMBEDDED_DATABASE=true)' });
  }
  if (!isTrue(env.ALLOW_GENERATED_KEYS)) {
    for (const setting of ['ENCRYPTION_KEYS', 'BLIND_INDEX_KEY']) {
      if (!isSet(env[setting])) issues.push({ setting, message: 'is required in production (or set ALLOW_GENERATED_KEYS=true)' });
    }
    if (!isSet(env.APP_JWKS_URL) && !isSet(env.APP_JWT_PUBLIC_KEY)) {
      issues.push({ setting: 'APP_JWKS_URL', message: 'or APP_JWT_PUBLIC_KEY is required in production (or set ALLOW_GENERATED_KEYS=true)' });
    }
    if (isTrue(env.SANDBOX_ENABLED) && !isSet(env.SANDBOX_WEBHOOK_SECRET)) {
      issues.push({ setting: 'SANDBOX_WEBHOOK_SECRET', message: 'is required when SANDBOX_ENABLED=true in production' });
    }
  }
  if (!isSet(env.APP_JWT_ISSUER) && (isSet(env.APP_JWKS_URL) || isSet(env.APP_JWT_PUBLIC_KEY))) {
    issues.push({ setting: 'APP_JWT_ISSUER', message: 'is required when the app tokens come from your identity service' });
  }
  return issues;
}

/** What running fail-open means, in the words of the setting that allows it. */
function failOpenSettings(risk: RiskSettings): string | undefined {
  const open = [!risk.enabled && 'RISK_ENABLED=false', risk.failMode === 'allow' && 'RISK_FAIL_MODE=allow'].filter(Boolean);
  return open.length > 0 ? open.join(' and ') : undefined;
}

/**
 * A production gateway that lets checkouts through unchecked (risk engine off, or "allow" when Redis or the
 * blocklists cannot be reached) must be told so in a second setting, so a typo or a benchmark's .env
 * cannot switch fraud checks off by itself.
 */
function failOpenIssues(production: boolean, risk: RiskSettings | undefined): SettingIssue[] {
  const open = risk && failOpenSettings(risk);
  if (!production || !open || risk.failOpenAcknowledged) return [];
  return [{ setting: 'RISK_FAIL_OPEN_ACKNOWLEDGED', message: `must be true to run production with ${open}: checkouts would pass without risk checks` }];
}

/**
 * Settings that are valid but probably a mistake: start-up logs each once and carries on, because the
 * gateway cannot tell a wrong setting from an unusual deployment.
 */
export function startupWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.production && config.trustProxy === 0) {
    warnings.push(
      'TRUST_PROXY=0 in production: behind a load balancer every client shares its address, so per-IP rate limits and risk rules treat them as one. Set TRUST_PROXY to the number of proxies in front.',
    );
  }
  const open = failOpenSettings(config.risk);
  if (config.production && open) {
    warnings.push(`${open} in production (acknowledged by RISK_FAIL_OPEN_ACKNOWLEDGED): checkouts can pass without risk checks.`);
  }
  return warnings;
}

/** Every environment name the gateway reads, for checks that a deployment file sets only real settings. */
export function settingNames(): string[] {
  return [coreSchema, stripeSettingsSchema, alipaySettingsSchema, riskSettingsSchema, jobsSettingsSchema, retentionSettingsSchema].flatMap(settingNamesOf);
}

/** Reads and validates every setting at once, so start-up reports all problems together, one line each. */
export function loadConfig(env: Env = process.env): Config {
  const core = parseSettings(coreSchema, env);
  const stripe = parseSettings(stripeSettingsSchema, env);
  const alipay = parseSettings(alipaySettingsSchema, env);
  const risk = parseSettings(riskSettingsSchema, env);
  const jobs = parseSettings(jobsSettingsSchema, env);
  const retention = parseSettings(retentionSettingsSchema, env);
  const rights = parseSettings(rightsSettingsSchema, env);
  const staff = parseSettings(staffSettingsSchema, env);
  const issues = [
    ...core.issues,
    ...stripe.issues,
    ...alipay.issues,
    ...risk.issues,
    ...jobs.issues,
    ...retention.issues,
    ...rights.issues,
    ...staff.issues,
    ...staffSettingIssues(staff.value, core.value && { issuer: core.value.APP_JWT_ISSUER ?? 'kalos-pay-embedded', audience: core.value.APP_JWT_AUDIENCE ?? 'kalos-pay' }),
    ...productionIssues(env),
    ...failOpenIssues(core.value?.NODE_ENV === 'production', risk.value),
  ];
  if (core.value && core.value.HTTP_HEADERS_TIMEOUT_MS > core.value.HTTP_REQUEST_TIMEOUT_MS) {
    issues.push({ setting: 'HTTP_HEADERS_TIMEOUT_MS', message: 'must not be longer than HTTP_REQUEST_TIMEOUT_MS' });
  }
  if (issues.length > 0 || !core.value || !stripe.value || !alipay.value || !risk.value) throw new ConfigError(issues);
  if (!jobs.value || !retention.value || !rights.value || !staff.value) throw new ConfigError(issues);
  return buildConfig(core.value, stripe.value, alipay.value, risk.value, { jobs: jobs.value, retention: retention.value, rights: rights.value, staff: staff.value });
}
