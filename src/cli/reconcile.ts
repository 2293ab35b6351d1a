import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { reconcileOnce } from '../jobs/reconcile';

export const RECONCILE_USAGE = [
  'usage: kalos reconcile [--older-than SECONDS]',
  '  asks the providers about payments stuck in requires_payment / processing / failed for longer than',
  '  SECONDS (default RECONCILE_MIN_AGE_SECONDS), cancels checkouts unpaid for PAYMENT_EXPIRY_SECONDS,',
  '  settles pending refunds and deletes idempotency keys past their retention. The job engine runs the same',
  '  pass on JOBS_RECONCILE_CRON; this is the manual trigger (or cron\'s, with JOBS_RECONCILE_CRON=off).',
].join('\n');

/** One reconcile pass (reconcileOnce), safe beside the scheduled job and on several hosts at once. */
export async function runReconcileCommand(args: string[], gateway: Gateway): Promise<string> {
  const { values } = parseArgs({ args, options: { 'older-than': { type: 'string' } } });
  const olderThanSeconds = values['older-than'] === undefined ? gateway.config.reconcileMinAgeSeconds : Number(values['older-than']);
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) throw new Error('--older-than takes a whole number of seconds');
  return (await reconcileOnce(gateway, { olderThanSeconds })).join('\n');
}
