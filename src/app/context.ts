import Redis from 'ioredis';
import type { Logger } from 'pino';
import { TokenVerifier } from '../auth/app-tokens';
import { Catalog } from '../catalog/catalog';
import { Config, ConfigError, startupWarnings } from '../config';
import { KeyMaterial, resolveKeyMaterial } from '../config/key-material';
import { connectDatabase, DatabaseHandle } from '../db/connect';
import { createLogger } from '../http/logger';
import { createJobEngine } from '../jobs/engine';
import { instrumentProviders, instrumentRiskEngine, observeDatabasePool } from '../ops/instrument';
import { createMetrics } from '../ops/metrics';
import { createCheckoutService } from '../payments/checkout';
import type { Payment } from '../payments/payment';
import { createRefundService } from '../payments/refunds';
import { BlindIndex, MasterKeyring } from '../privacy/keyring';
import { PersonalDataVault, unconfiguredMasterKeyIds } from '../privacy/vault';
import { createProviderRegistry } from '../providers/registry';
import { createRiskEngine } from '../risk';
import { createIdentityCheck } from '../rights/identity';
import { createResidencyCheck } from '../rights/residency';
import { createStaffOps, embeddedStaffIssuer } from '../staff/service';
import { createWebhookService } from '../webhooks/service';

/**
 * With the offline queue off, commands sent before the connection is up fail at once; waiting for it here
 * keeps the first checkouts after a start from being treated as a Redis outage. A Redis that is down does
 * not stop the gateway: it starts, and the fallbacks apply.
 */
function connected(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    const onReady = () => done(true);
    function done(ready: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    }
    redis.once('ready', onReady);
  });
}

/**
 * Everything one gateway instance runs on, wired once at start-up. Domain services take their
 * dependencies as parameters, so tests can build the same graph on a fresh database.
 */
export async function createGateway(config: Config, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? createLogger(config.logLevel);
  for (const warning of startupWarnings(config)) logger.warn(warning);
  const keys: KeyMaterial = resolveKeyMaterial(config);
  const staffIssuer = embeddedStaffIssuer(config.staff, { dataDir: config.dataDir, generatedKeysAllowed: config.keys.generatedAllowed });
  const catalog = Catalog.fromFile(config.catalogFile);
  const tokens = new TokenVerifier({
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    jwksUrl: config.auth.jwksUrl,
    jwksTimeoutMs: config.auth.jwksTimeoutMs,
    publicKey: config.auth.publicKey ?? keys.embeddedJwt?.publicKeyPem,
    logger,
  });
  const database: DatabaseHandle = await connectDatabase({
    url: config.database.url,
    dataDir: config.dataDir,
    poolSize: config.database.poolSize,
    connectTimeoutMs: config.database.connectTimeoutMs,
    migrate: true,
    logger,
  });
  const db = database.db;
  const masterKeys = new MasterKeyring(keys.masterKeys);
  const missingKeys = await unconfiguredMasterKeyIds(db, masterKeys).catch(async (error) => {
    await database.close();
    throw error;
  });
  if (missingKeys.length > 0) {
    await database.close();
    throw new ConfigError([
      {
        setting: 'ENCRYPTION_KEYS',
        message: `lacks master key ${missingKeys.join(', ')}, which wraps stored data keys: list it after the active key (rotation keeps old keys)`,
      },
    ]);
  }
  // Fail fast on commands while Redis is down instead of queueing them: callers have fallbacks. Commands
  // issued in one tick (a checkout's three counter scripts, other requests' rate limits) go out in one write.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: 500, enableAutoPipelining: true,
      })
    : undefined;
  redis?.on('error', (error) => logger.warn({ err: error.message }, 'redis unavailable'));
  if (redis && !(await connected(redis, 2000))) logger.warn('redis not reachable at start-up: counters use their fail mode until it is');

  const blindIndex = new BlindIndex(keys.blindIndexKey);
  const vault = new PersonalDataVault(masterKeys, blindIndex);
  const metrics = createMetrics();
  observeDatabasePool(metrics, db);
  // Instrumented at their interfaces: provider latency and errors, risk decisions (metrics and one log line each).
  const providers = instrumentProviders(createProviderRegistry(config, { sandboxWebhookSecret: keys.sandboxWebhookSecret }), metrics);
  const risk = instrumentRiskEngine(createRiskEngine(config.risk, { db, redis, logger, blindIndex }), metrics, logger);
  const onStatusChange = (payment: Payment) => {
    void risk.paymentStatusChanged?.({
      paymentId: payment.id, userHash: payment.userHash, deviceHash: payment.deviceHash, status: payment.status, at: payment.updatedAt,
    });
  };

  const webhooks = createWebhookService({ db, providers, metrics, logger, onStatusChange });
  const refunds = createRefundService({ db, providers, logger, onStatusChange });
  const checkout = createCheckoutService({
    db, catalog, providers, vault, risk, publicBaseUrl: config.publicBaseUrl, idempotencyTtlHours: config.idempotencyTtlHours,
    inProgressWaitMs: config.idempotencyWaitMs,
    logger,
    mayReachProvider: createResidencyCheck({ db, dataRegion: config.rights.dataRegion }),
  });
  const rightsIdentity = createIdentityCheck({
    tokens, stepUp: config.risk.stepUp, redis, blindIndex, requestsPerHour: config.rights.requestsPerHour,
  });
  // Started by startJobs (src/jobs), not here: a CLI or a test that only needs the gateway runs no workers.
  const jobs = createJobEngine({ db, settings: config.jobs, logger, metrics, stopTimeoutMs: config.shutdownGraceMs });

  const staff = createStaffOps(config.staff, { db, blindIndex, embeddedIssuer: staffIssuer, logger });

  return {
    config,
    logger,
    keys,
    db,
    embeddedDatabase: database.embedded,
    redis,
    catalog,
    tokens,
    blindIndex,
    vault,
    providers,
    metrics,
    risk,
    webhooks,
    refunds,
    checkout,
    jobs,
    rightsIdentity,
    staff,
    /** Tells the risk engine a payment's status changed (its per-user counters); staff actions call it too. */
    onStatusChange,
    /** This instance's own address (set once the server listens): where the sandbox delivers its webhooks by default. */
    selfUrl: undefined as string | undefined,
    async close() {
      await jobs.stop();
      await risk.close();
      redis?.disconnect();
      await database.close();
    },
  };
}

export type Gateway = Awaited<ReturnType<typeof createGateway>>;
