import { indexMigration, IndexSpec } from './indexes';

/** The age column of each table the retention sweep walks; the payments one exists already (status, updated_at). */
const INDEXES: IndexSpec[] = [
  { name: 'webhook_events_received_idx', on: 'webhook_events (received_at)' },
  { name: 'payment_status_history_at_idx', on: 'payment_status_history (at)' },
  { name: 'risk_decisions_created_idx', on: 'risk_decisions (created_at)' },
  { name: 'risk_step_up_attempts_at_idx', on: 'risk_step_up_attempts (at)' },
  { name: 'risk_step_up_tokens_used_idx', on: 'risk_step_up_tokens (used_at)' },
  { name: 'idempotency_keys_unanswered_idx', on: 'idempotency_keys (created_at) WHERE response_status IS NULL' },
];

/**
 * Each retention batch takes the oldest rows past a cutoff; without an index on the age column every batch
 * would scan the whole table, and a sweep over a large one would cost batches × table size.
 */
export class RetentionIndexes1733600000001 extends indexMigration('RetentionIndexes1733600000001', INDEXES) {}
