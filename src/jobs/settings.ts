import { z } from 'zod';
import { envBoolean, envInt, envString } from '../config/env';

/**
 * A five-field cron expression (minute hour day month weekday, UTC), or `off`. Checked for its shape here
 * so a typo is a start-up error naming the setting; pg-boss parses the expression itself when scheduling.
 */
const CRON = /^(\S+\s+){4}\S+$/;
const envCron = (fallback: string) =>
  envString().transform((value, ctx) => {
    const text = (value ?? fallback).trim();
    if (text === 'off' || CRON.test(text)) return text === 'off' ? undefined : text;
    ctx.addIssue({ code: 'custom', message: 'must be a five-field cron expression (UTC) or off' });
    return z.NEVER;
  });

/** Job engine settings; owned by src/jobs. */
export const jobsSettingsSchema = z
  .object({
    /** false: this instance still enqueues jobs (in the transaction that needs them) but runs none; another instance does. */
    JOBS_ENABLED: envBoolean(true),
    /** Every five minutes: a payment whose webhook never came is settled within minutes, not at the next manual run. */
    JOBS_RECONCILE_CRON: envCron('*/5 * * * *'),
    /** Daily at 03:17 UTC, off the hour when other cron work piles up. */
    JOBS_RETENTION_CRON: envCron('17 3 * * *'),
    /** Every ten minutes: an erasure waiting for a dispute or refund finishes soon after it closes, well inside 30 days. */
    JOBS_ERASURES_CRON: envCron('*/10 * * * *'),
    /** Monthly: the audit trail is pruned by whole months past its retention, so once a month is as often as it can shrink. */
    JOBS_AUDIT_PRUNE_CRON: envCron('41 4 1 * *'),
    /** How often an idle worker asks for new jobs (pg-boss polls: no LISTEN, so the embedded database behaves the same). */
    JOBS_POLL_SECONDS: envInt(2, 1, 60),
  })
  .transform((env) => ({
    enabled: env.JOBS_ENABLED,
    schedules: { reconcile: env.JOBS_RECONCILE_CRON, retention: env.JOBS_RETENTION_CRON, erasures: env.JOBS_ERASURES_CRON, 'audit-prune': env.JOBS_AUDIT_PRUNE_CRON } as Record<string, string | undefined>,
    pollSeconds: env.JOBS_POLL_SECONDS,
  }));

export type JobsSettings = z.infer<typeof jobsSettingsSchema>;
