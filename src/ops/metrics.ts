import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics: one registry per gateway instance (tests start several in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kalos_' });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'kalos_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    paymentTransitions: new Counter({
      name: 'kalos_payment_transitions_total',
      help: 'Payment status changes by provider and new status',
      labelNames: ['provider', 'status'] as const,
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'kalos_webhooks_total',
      help: 'Provider webhooks by provider and outcome',
      labelNames: ['provider', 'outcome'] as const,
      registers: [registry],
    }),
    checkouts: new Counter({
      name: 'kalos_checkouts_total',
      help: 'POST /v1/checkouts answers by provider and outcome (ok, or the error code)',
      labelNames: ['provider', 'outcome'] as const,
      registers: [registry],
    }),
    idempotency: new Counter({
      name: 'kalos_idempotency_total',
      help: 'Checkouts refused for their Idempotency-Key: used with another body (key_reused), or its first request still running (key_in_use)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    rateLimitRefusals: new Counter({
      name: 'kalos_rate_limit_refusals_total',
      help: 'Requests refused with 429 by budget (ip, user)',
      labelNames: ['scope'] as const,
      registers: [registry],
    }),
    riskDecisions: new Counter({
      name: 'kalos_risk_decisions_total',
      help: 'Risk engine decisions by decision and whether the fail mode shaped them',
      labelNames: ['decision', 'fail_mode'] as const,
      registers: [registry],
    }),
    riskRuleHits: new Counter({
      name: 'kalos_risk_rule_hits_total',
      help: 'Rules that fired, by rule id (from the rules file), action and mode (enabled, shadow)',
      labelNames: ['rule', 'action', 'mode'] as const,
      registers: [registry],
    }),
    riskFailMode: new Counter({
      name: 'kalos_risk_fail_mode_total',
      help: 'Decisions made by RISK_FAIL_MODE because counters or blocklists were unreachable, by decision',
      labelNames: ['decision'] as const,
      registers: [registry],
    }),
    providerCalls: new Histogram({
      name: 'kalos_provider_call_duration_seconds',
      help: 'Calls to a payment provider by provider, operation and outcome (ok, retryable, indeterminate, terminal, error)',
      labelNames: ['provider', 'operation', 'outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    providerErrors: new Counter({
      name: 'kalos_provider_errors_total',
      help: 'Failed provider calls by provider, operation and kind (retryable, indeterminate, terminal, error)',
      labelNames: ['provider', 'operation', 'kind'] as const,
      registers: [registry],
    }),
    webhookLag: new Histogram({
      name: 'kalos_webhook_lag_seconds',
      help: 'Time from the provider’s own event time to our receipt of the verified webhook, by provider',
      labelNames: ['provider'] as const,
      buckets: [1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
