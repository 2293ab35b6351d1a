import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics: one registry per gateway instance (tests start several in one process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kalos_' });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
    new Histogram({ name, help, labelNames, buckets, registers: [registry] });
  return {
    registry,
    httpRequests: histogram('kalos_http_request_duration_seconds', 'HTTP request duration by route and status', ['method', 'route', 'status'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
    paymentTransitions: counter('kalos_payment_transitions_total', 'Payment status changes by provider and new status', ['provider', 'status']),
    webhooks: counter('kalos_webhooks_total', 'Provider webhooks by provider and outcome', ['provider', 'outcome']),
    checkouts: counter('kalos_checkouts_total', 'POST /v1/checkouts answers by provider and outcome (ok, or the error code)', ['provider', 'outcome']),
    idempotency: counter('kalos_idempotency_total', 'Checkouts answered for their Idempotency-Key: the stored answer of an earlier request (replayed), or refused: used with another body (key_reused), its first request still running (key_in_use)', ['result']),
    rateLimitRefusals: counter('kalos_rate_limit_refusals_total', 'Requests refused with 429 by budget (ip, user)', ['scope']),
    riskDecisions: counter('kalos_risk_decisions_total', 'Risk engine decisions by decision and whether the fail mode shaped them', ['decision', 'fail_mode']),
    riskRuleHits: counter('kalos_risk_rule_hits_total', 'Rules that fired, by rule id (from the rules file), action and mode (enabled, shadow)', ['rule', 'action', 'mode']),
    riskFailMode: counter('kalos_risk_fail_mode_total', 'Decisions made by RISK_FAIL_MODE because counters or blocklists were unreachable, by decision', ['decision']),
    providerCalls: histogram('kalos_provider_call_duration_seconds', 'Calls to a payment provider by provider, operation and outcome (ok, retryable, indeterminate, terminal, error)', ['provider', 'operation', 'outcome'], [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    providerErrors: counter('kalos_provider_errors_total', 'Failed provider calls by provider, operation and kind (retryable, indeterminate, terminal, error)', ['provider', 'operation', 'kind']),
    webhookLag: histogram('kalos_webhook_lag_seconds', 'Time from the provider’s own event time to our receipt of the verified webhook, by provider', ['provider'], [1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600]),
    jobs: counter('kalos_jobs_total', 'Jobs run by this instance, by queue and outcome (completed, failed: a failed job is retried per its queue)', ['queue', 'outcome']),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
