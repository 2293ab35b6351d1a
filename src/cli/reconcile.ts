import { parseArgs } from 'node:util';
import { createGateway } from '../app/context';
import { loadConfig } from '../config';
import { reconcileStuckPayments } from '../payments/reconcile';

/**
 * `npm run reconcile [-- --older-than <seconds>]`: asks the providers about payments stuck in
 * requires_payment / processing (their webhook never came) and settles them. Safe to run from cron on
 * several hosts at once: every change goes through the same once-only event path as webhooks.
 */
async function main() {
  const { values } = parseArgs({ options: { 'older-than': { type: 'string' } } });
  const config = loadConfig();
  const olderThanSeconds = values['older-than'] === undefined ? config.reconcileMinAgeSeconds : Number(values['older-than']);
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 0) throw new Error('--older-than takes a whole number of seconds');
  const gateway = await createGateway(config);
  try {
    const summary = await reconcileStuckPayments(gateway, { olderThanSeconds });
    console.log(`reconcile: examined ${summary.examined}, settled ${summary.changed}, could not ask ${summary.failed}`);
  } finally {
    await gateway.close();
  }
}

main().catch((error) => {
  console.error(`reconcile failed: ${(error as Error).message}`);
  process.exit(1);
});
