import { parseArgs } from 'node:util';
import { createGateway } from '../app/context';
import { loadConfig } from '../config';
import { reconcileOnce } from '../jobs/reconcile';

/**
 * `npm run reconcile [-- --older-than <seconds>]`: asks the providers about payments stuck in
 * requires_payment / processing (their webhook never came) and settles them, cancels checkouts left
 * unpaid for PAYMENT_EXPIRY_SECONDS, asks again about refunds left pending, and deletes idempotency keys
 * past their retention. The job engine runs the same pass on JOBS_RECONCILE_CRON; this is the manual trigger,
 * safe alongside it (see reconcileOnce).
 */
async function main() {
  const { values } = parseArgs({ options: { 'older-than': { type: 'string' } } });
  const config = loadConfig();
  const olderThanSeconds = values['older-than'] === undefined ? config.reconcileMinAgeSeconds : Number(values['older-than']);
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) throw new Error('--older-than takes a whole number of seconds');
  const gateway = await createGateway(config);
  try {
    for (const line of await reconcileOnce(gateway, { olderThanSeconds })) console.log(line);
  } finally {
    await gateway.close();
  }
}

main().catch((error) => {
  console.error(`reconcile failed: ${(error as Error).message}`);
  process.exit(1);
});
