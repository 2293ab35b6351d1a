import type { Gateway } from '../app/context';
import type { JobDefinition } from './engine';
import { gatewayJobs } from './registry';

export type { JobDefinition, JobEngine } from './engine';

/**
 * Starts this instance's part in the job engine: pg-boss's schema, the queues and, with JOBS_ENABLED, the
 * schedules and workers. Afterwards `gateway.jobs.enqueue(tx, name, payload)` adds jobs inside a transaction.
 * `definitions` defaults to the gateway's own jobs; tests pass their own.
 */
export function startJobs(gateway: Gateway, definitions: JobDefinition[] = gatewayJobs(gateway)): Promise<void> {
  return gateway.jobs.start(definitions);
}
