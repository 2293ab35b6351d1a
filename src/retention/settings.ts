import { z } from 'zod';
import { envInt } from '../config/env';

const DAY_LIMIT = 100 * 366;

/**
 * How long each kind of record is kept, in days; owned by src/retention. docs/data-lifecycle.md gives the
 * reason behind every default, and whether the record is then deleted or anonymised.
 */
export const retentionSettingsSchema = z
  .object({
    RETENTION_WEBHOOK_EVENTS_DAYS: envInt(90, 7, DAY_LIMIT),
    RETENTION_STATUS_HISTORY_DAYS: envInt(540, 30, DAY_LIMIT),
    RETENTION_RISK_FEATURES_DAYS: envInt(90, 1, DAY_LIMIT),
    RETENTION_RISK_DECISIONS_DAYS: envInt(400, 30, DAY_LIMIT),
    RETENTION_STEP_UP_DAYS: envInt(30, 1, DAY_LIMIT),
    RETENTION_UNANSWERED_IDEMPOTENCY_DAYS: envInt(7, 2, DAY_LIMIT),
    RETENTION_STAFF_IDEMPOTENCY_DAYS: envInt(1, 1, DAY_LIMIT),
    RETENTION_PAYMENT_PERSONAL_DAYS: envInt(1095, 30, DAY_LIMIT),
    /** Rows per transaction: a batch holds its row locks for milliseconds, never a whole table. */
    RETENTION_BATCH_SIZE: envInt(1000, 1, 100_000),
    /** Batches per kind per run; what is left over is taken by the next run (the sweep is resumable). */
    RETENTION_MAX_BATCHES: envInt(1000, 1, 1_000_000),
  })
  .transform((env) => ({
    days: {
      webhookEvents: env.RETENTION_WEBHOOK_EVENTS_DAYS,
      statusHistory: env.RETENTION_STATUS_HISTORY_DAYS,
      riskFeatures: env.RETENTION_RISK_FEATURES_DAYS,
      riskDecisions: env.RETENTION_RISK_DECISIONS_DAYS,
      stepUp: env.RETENTION_STEP_UP_DAYS,
      unansweredIdempotency: env.RETENTION_UNANSWERED_IDEMPOTENCY_DAYS,
      staffIdempotency: env.RETENTION_STAFF_IDEMPOTENCY_DAYS,
      paymentPersonal: env.RETENTION_PAYMENT_PERSONAL_DAYS,
    },
    batchSize: env.RETENTION_BATCH_SIZE,
    maxBatches: env.RETENTION_MAX_BATCHES,
  }));

export type RetentionSettings = z.infer<typeof retentionSettingsSchema>;
export type RetentionKind = keyof RetentionSettings['days'];
