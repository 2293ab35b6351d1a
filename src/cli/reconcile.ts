import { parseArgs } from 'node:util';
import { createGateway } from '../app/context';
import { loadConfig } from '../config';
import { purgeExpiredIdempotencyKeys } from '../payments/idempotency';
import { expireAbandonedPayments, reconcileStuckPayments } from '../payments/reconcile';

/**
 * `npm run reconcile [-- --older-than <seconds>]`: asks the providers about payments stuck in
 * requires_payment / processing (their webhook never came) and settles them, cancels checkouts left
 * unpaid for PAYMENT_EXPIRY_SECONDS, asks again about refunds left pending, and deletes idempotency keys
 * past their retention. Safe to run from cron on several hosts at once: every change
 * goes through the once-only event path or the state machine's row lock.
 */
async function main() {
  const { values } = parseArgs({ options: { 'older-than': { type: 'string' } } });
  const config = loadConfig();
  const olderThanSeconds = values['older-than'] === undefined ? config.reconcileMinAgeSeconds : Number(values['older-than']);
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) throw new Error('--older-than takes a whole number of seconds');
  const gateway = await createGateway(config);
  try {
    const settled = await reconcileStuckPayments(gateway, { olderThanSeconds });
    console.log(`reconcile: examined ${settled.examined}, settled ${settled.changed}, could not ask ${settled.failed}`);
    const expired = await expireAbandonedPayments(gateway, { olderThanSeconds: config.paymentExpirySeconds });
    console.log(`expire: examined ${expired.examined}, canceled ${expired.changed}, could not cancel ${expired.failed}`);
    const refunds = await gateway.refunds.settlePendingRefunds({ olderThanSeconds });
    console.log(`refunds: examined ${refunds.examined} pending, settled ${refunds.settled}`);
    console.log(`idempotency keys past retention deleted: ${await purgeExpiredIdempotencyKeys(gateway.db)}`);
  } finally {
    await gateway.close();
  }
}

main().catch((error) => {
  console.error(`reconcile failed: ${(error as Error).message}`);
  process.exit(1);
});
