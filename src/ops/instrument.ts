import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Database } from '../db/database';
import { ProviderRegistry } from '../providers/registry';
import { PaymentProvider, ProviderError } from '../providers/types';
import type { RiskAssessment, RiskRuntime } from '../risk';
import type { RuleHit } from '../risk/rules';
import type { Metrics } from './metrics';
import { notePaymentId } from './request-context';

/**
 * Metrics and log lines taken at the boundaries of the domain code (the provider interface, the risk
 * engine's decide, the HTTP answer), so the domain modules stay free of them. Every label is a bounded
 * vocabulary of ours (provider names, operations, decisions, error codes, rule ids from the rules file):
 * never an id or anything about a user.
 */

/**
 * `target` with some members replaced; every other member is the target's own, called on the target, so
 * its state stays in one place (the rules SIGHUP reloads) and members added later pass through unchanged.
 */
function withOverrides<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.prototype.hasOwnProperty.call(overrides, key)) return overrides[key as keyof T];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

const PROVIDER_CALLS = ['createSession', 'fetchStatus', 'refund', 'capture', 'cancel'] as const;

/** One provider with each call timed and its failures counted by kind; parseWebhook also measures the lag. */
function instrumentProvider(provider: PaymentProvider, metrics: Metrics): PaymentProvider {
  const timed = Object.fromEntries(
    PROVIDER_CALLS.map((operation) => [
      operation,
      async (input: never) => {
        const stop = metrics.providerCalls.startTimer({ provider: provider.name, operation });
        try {
          const result = await (provider[operation] as (input: never) => Promise<unknown>).call(provider, input);
          stop({ outcome: 'ok' });
          return result;
        } catch (error) {
          const kind = error instanceof ProviderError ? error.kind : 'error';
          stop({ outcome: kind });
          metrics.providerErrors.inc({ provider: provider.name, operation, kind });
          throw error;
        }
      },
    ]),
  );
  return withOverrides(provider, {
    ...(timed as Pick<PaymentProvider, (typeof PROVIDER_CALLS)[number]>),
    async parseWebhook(request: Parameters<PaymentProvider['parseWebhook']>[0]) {
      const event = await provider.parseWebhook(request);
      if ('occurredAt' in event && event.occurredAt) {
        metrics.webhookLag.observe({ provider: provider.name }, Math.max(0, (Date.now() - event.occurredAt.getTime()) / 1000));
      }
      if ('ref' in event) notePaymentId(event.ref.paymentId);
      return event;
    },
  });
}

/** The same registry, with every provider instrumented. */
export function instrumentProviders(registry: ProviderRegistry, metrics: Metrics): ProviderRegistry {
  return new ProviderRegistry(registry.names.map((name) => instrumentProvider(registry.get(name)!, metrics)));
}

const hitsOf = (assessment: RiskAssessment): RuleHit[] => (assessment.journal as { hits?: RuleHit[] } | undefined)?.hits ?? [];

/**
 * Counts every decision, the rules that fired and fail-mode decisions, and logs one line per decision:
 * decision, score, rule ids and the payment id. Never the features (they hold hashed identifiers).
 */
export function instrumentRiskEngine(engine: RiskRuntime, metrics: Metrics, logger: Logger): RiskRuntime {
  return withOverrides(engine, {
    async assess(...args: Parameters<RiskRuntime['assess']>) {
      const assessment = await engine.assess(...args);
      const hits = hitsOf(assessment);
      const failMode = Boolean(assessment.failMode);
      metrics.riskDecisions.inc({ decision: assessment.decision, fail_mode: String(failMode) });
      if (failMode) metrics.riskFailMode.inc({ decision: assessment.decision });
      for (const hit of hits) metrics.riskRuleHits.inc({ rule: hit.rule, action: hit.action, mode: hit.mode });
      logger.info(
        {
          paymentId: args[0].paymentId,
          decision: assessment.decision,
          score: assessment.score,
          failMode,
          rules: hits.filter((hit) => hit.mode === 'enabled').map((hit) => hit.rule),
          shadowRules: hits.filter((hit) => hit.mode === 'shadow').map((hit) => hit.rule),
        },
        'risk decision',
      );
      return assessment;
    },
  });
}

/** The database pool, read at each scrape: connections open, idle, and callers waiting for one. */
export function observeDatabasePool(metrics: Metrics, db: Database): void {
  const pool = (db.dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
  new Gauge({
    name: 'kalos_db_pool_connections',
    help: 'PostgreSQL pool connections by state (open, idle, waiting: callers queued for one)',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      this.set({ state: 'open' }, pool?.totalCount ?? 0);
      this.set({ state: 'idle' }, pool?.idleCount ?? 0);
      this.set({ state: 'waiting' }, pool?.waitingCount ?? 0);
    },
  });
}

interface Answer {
  id?: string;
  object?: string;
  error?: { code?: string; payment_id?: string };
}

const IDEMPOTENCY_CONFLICTS: Record<string, string> = { idempotency_key_reused: 'key_reused', idempotency_key_in_use: 'key_in_use' };

/**
 * Reads each JSON answer on its way out: the error code (for the request's log line, see requestLog in
 * http/logger.ts) and the payment it is about (for the log lines that follow); and counts checkouts by outcome.
 */
export function observeAnswers(metrics: Metrics, providers: ProviderRegistry) {
  return (req: Request, res: Response, next: NextFunction) => {
    let answer: Answer | undefined;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      answer = body !== null && typeof body === 'object' ? (body as Answer) : undefined;
      if (answer?.error?.code) res.locals.errorCode = answer.error.code;
      res.locals.paymentId = answer?.object === 'payment' ? answer.id : answer?.error?.payment_id;
      notePaymentId(res.locals.paymentId);
      return json(body);
    };
    res.on('finish', () => {
      if (req.method !== 'POST' || req.route?.path !== '/v1/checkouts') return;
      const requested = (req.body as { provider?: unknown } | undefined)?.provider;
      const provider = providers.names.find((name) => name === requested) ?? 'unknown';
      const outcome = res.statusCode < 400 ? 'ok' : (answer?.error?.code ?? String(res.statusCode));
      metrics.checkouts.inc({ provider, outcome });
      if (IDEMPOTENCY_CONFLICTS[outcome]) metrics.idempotency.inc({ result: IDEMPOTENCY_CONFLICTS[outcome] });
      if (res.locals.idempotentReplay) metrics.idempotency.inc({ result: 'replayed' });
    });
    next();
  };
}
