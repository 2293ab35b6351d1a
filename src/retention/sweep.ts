import type { Database } from '../db/database';
import { RETENTION_RULES, RetentionRule } from './rules';
import type { RetentionKind, RetentionSettings } from './settings';

export interface RetentionOutcome {
  kind: RetentionKind;
  table: string;
  action: RetentionRule['action'];
  rows: number;
  /** true when the run stopped at RETENTION_MAX_BATCHES with rows left: the next run carries on. */
  unfinished: boolean;
}

const DAY_MS = 86_400_000;

/**
 * One batch in its own short transaction. The append-only triggers on evidence tables let a row go only
 * while `kalos.maintenance` names it, and SET LOCAL switches it on for this transaction alone: it ends with the
 * commit, so nothing else on the pooled connection can rewrite history afterwards.
 */
function runBatch(db: Database, rule: RetentionRule, cutoff: Date, batchSize: number): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.many(`SET LOCAL kalos.maintenance = 'retention'`);
    return (await tx.many(rule.batch, [cutoff, batchSize])).length;
  });
}

/**
 * Deletes or anonymises every record older than its kind's setting, in bounded batches. `now` is the
 * moment the ages are measured from: the database's clock by default, a moved one in tests.
 */
export async function sweepRetention(db: Database, settings: RetentionSettings, options: { now?: Date } = {}): Promise<RetentionOutcome[]> {
  const now = options.now ?? (await db.one<{ now: Date }>('SELECT now() AS now'))!.now;
  const outcomes: RetentionOutcome[] = [];
  for (const rule of RETENTION_RULES) {
    const cutoff = new Date(now.getTime() - settings.days[rule.kind] * DAY_MS);
    let rows = 0;
    let batches = 0;
    let last: number;
    do {
      last = await runBatch(db, rule, cutoff, settings.batchSize);
      rows += last;
      batches += 1;
    } while (last === settings.batchSize && batches < settings.maxBatches);
    outcomes.push({ kind: rule.kind, table: rule.table, action: rule.action, rows, unfinished: last === settings.batchSize });
  }
  return outcomes;
}
