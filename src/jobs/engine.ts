import type { Logger } from 'pino';
import type { Db, PgBoss, Queue, SendOptions } from 'pg-boss';
import type { Database, Sql } from '../db/database';
import type { Metrics } from '../ops/metrics';
import type { JobsSettings } from './settings';

/** Where pg-boss keeps its own tables. Created and upgraded by pg-boss's migrator at start-up (see docs/data-lifecycle.md). */
export const JOBS_SCHEMA = 'pgboss';

/** One kind of job: its queue, how it is retried, and what it does with its payload. */
export interface JobDefinition<P extends object = Record<string, unknown>> {
  name: string;
  /**
   * pg-boss queue options. `stately` (one queued, one active across all instances) suits scheduled sweeps:
   * a slow run is never overlapped by the next tick. The default `standard` suits jobs enqueued per change.
   */
  queue?: Omit<Queue, 'name'>;
  run(payload: P): Promise<void>;
}

interface PgResult {
  rows?: unknown[];
}

/** node-postgres answers a multi-statement text (pg-boss's migrations) with one result per statement. */
const rowsOf = (result: PgResult | PgResult[]) => (Array.isArray(result) ? result.flatMap((part) => part.rows ?? []) : (result.rows ?? []));

/**
 * pg-boss runs every statement through our own pool, not one of its own: the embedded database serves a
 * single connection, and a second pool there would wait on it forever. A failed multi-statement text can
 * leave its connection inside an aborted BEGIN; rolling back before the connection goes back to the pool
 * keeps it from poisoning the next caller (with one connection, every later query).
 */
function poolAdapter(db: Database): Db {
  return {
    async executeSql(text, values) {
      const runner = db.dataSource.createQueryRunner();
      try {
        const client = (await runner.connect()) as { query(text: string, values?: unknown[]): Promise<PgResult | PgResult[]> };
        try {
          return { rows: rowsOf(await client.query(text, values)) };
        } catch (error) {
          if (!values?.length) await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } finally {
        await runner.release();
      }
    },
  };
}

/** Runs pg-boss's insert on the caller's transaction: the job exists exactly when the change that needs it commits. */
const transactionAdapter = (tx: Sql): Db => ({ executeSql: async (text, values) => ({ rows: await tx.many(text, values) }) });

export interface JobEngineDeps {
  db: Database;
  settings: JobsSettings;
  logger: Logger;
  metrics: Metrics;
  /** How long stop() lets running jobs finish. */
  stopTimeoutMs: number;
}

/**
 * The job engine, pg-boss on our PostgreSQL (or the embedded one): jobs are rows, taken with
 * `FOR UPDATE SKIP LOCKED`, so with N instances each job runs on one of them; a job that throws is retried
 * per its queue's options. Created with the gateway, started separately (startJobs), so CLIs and tests that
 * only need the gateway do not poll.
 */
export function createJobEngine(deps: JobEngineDeps) {
  let boss: PgBoss | undefined;

  async function work(started: PgBoss, definition: JobDefinition): Promise<void> {
    await started.work<Record<string, unknown>>(definition.name, { pollingIntervalSeconds: deps.settings.pollSeconds }, async (jobs) => {
      for (const job of jobs) {
        try {
          await definition.run(job.data ?? {});
          deps.metrics.jobs.inc({ queue: definition.name, outcome: 'completed' });
        } catch (error) {
          deps.metrics.jobs.inc({ queue: definition.name, outcome: 'failed' });
          deps.logger.warn({ err: error, queue: definition.name, jobId: job.id }, 'job failed; pg-boss retries it per its queue');
          throw error;
        }
      }
    });
  }

  /**
   * Registers the schedule from settings (or removes it when set to off), once in the shared schedule
   * table. A tick missed while every instance was down is sent once when one comes back, not skipped.
   */
  async function schedule(started: PgBoss, name: string): Promise<void> {
    if (!(name in deps.settings.schedules)) return;
    const cron = deps.settings.schedules[name];
    if (cron) await started.schedule(name, cron, {}, { tz: 'UTC', missed: 'once' });
    else await started.unschedule(name);
  }

  return {
    /**
     * Installs or upgrades pg-boss's schema (its migrator holds an advisory lock, so instances starting
     * together agree), creates the queues, and — when JOBS_ENABLED — registers schedules and workers.
     */
    async start(definitions: JobDefinition[]): Promise<void> {
      if (boss) throw new Error('The job engine is already started');
      const { PgBoss } = await import('pg-boss');
      const enabled = deps.settings.enabled;
      const created = new PgBoss({ db: poolAdapter(deps.db), schema: JOBS_SCHEMA, supervise: enabled, schedule: enabled, migrate: true });
      created.on('error', (error) => deps.logger.warn({ err: error }, 'job engine error'));
      created.on('warning', (warning) => deps.logger.warn({ warning }, 'job engine warning'));
      await created.start();
      boss = created;
      for (const definition of definitions) {
        await created.createQueue(definition.name, { retryLimit: 3, retryDelay: 30, retryBackoff: true, ...definition.queue });
        if (!enabled) continue;
        await schedule(created, definition.name);
        await work(created, definition);
      }
    },

    /**
     * Adds a job in the caller's transaction (`db.transaction(tx => …)`): it commits or rolls back with the
     * change that needs it. `startAfter` (seconds, or a date) defers it, e.g. to look again later at
     * something that must settle first; `singletonKey` keeps one job per key on a policy queue. Returns the
     * job id, or null when the queue's policy already holds one.
     */
    async enqueue(tx: Sql, name: string, payload: object, options: Pick<SendOptions, 'startAfter' | 'singletonKey'> = {}): Promise<string | null> {
      if (!boss) throw new Error('The job engine is not started (startJobs): jobs cannot be enqueued');
      return boss.send(name, payload, { ...options, db: transactionAdapter(tx) });
    },

    async stop(): Promise<void> {
      const started = boss;
      boss = undefined;
      await started?.stop({ graceful: true, close: false, timeout: deps.stopTimeoutMs });
    },
  };
}

export type JobEngine = ReturnType<typeof createJobEngine>;
