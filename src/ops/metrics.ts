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
    jobs: new Counter({
      name: 'kalos_jobs_total',
      help: 'Jobs run by this instance, by queue and outcome (completed, failed: a failed job is retried per its queue)',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
