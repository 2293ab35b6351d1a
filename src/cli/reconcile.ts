import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { purgeExpiredIdempotencyKeys } from '../payments/idempotency';
import { expireAbandonedPayments, reconcileStuckPayments } from '../payments/reconcile';

export const RECONCILE_USAGE = [
  'usage: kalos reconcile [--older-than SECONDS]',
  '  asks the providers about payments stuck in requires_payment / processing / failed for longer than',
  '  SECONDS (default RECONCILE_MIN_AGE_SECONDS), cancels checkouts unpaid for PAYMENT_EXPIRY_SECONDS,',
  '  settles pending refunds and deletes idempotency keys past their retention. Run it from cron.',
].join('\n');

/**
 * One reconcile pass. Safe to run from cron on several hosts at once: every change goes through the
 * once-only fact path under the payment's row lock.
 */
export async function runReconcileCommand(args: string[], gateway: Gateway): Promise<string> {
  const { values } = parseArgs({ args, options: { 'older-than': { type: 'string' } } });
  const olderThanSeconds = values['older-than'] === undefined ? gateway.config.reconcileMinAgeSeconds : Number(values['older-than']);
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) throw new Error('--older-than takes a whole number of seconds');
  const settled = await reconcileStuckPayments(gateway, { olderThanSeconds });
  const expired = await expireAbandonedPayments(gateway, { olderThanSeconds: gateway.config.paymentExpirySeconds });
  const refunds = await gateway.refunds.settlePendingRefunds({ olderThanSeconds });
  const purged = await purgeExpiredIdempotencyKeys(gateway.db);
  return [
    `reconcile: examined ${settled.examined}, settled ${settled.changed}, could not ask ${settled.failed}`,
    `expire: examined ${expired.examined}, canceled ${expired.changed}, could not cancel ${expired.failed}`,
    `refunds: examined ${refunds.examined} pending, settled ${refunds.settled}`,
    `idempotency keys past retention deleted: ${purged}`,
  ].join('\n');
}
