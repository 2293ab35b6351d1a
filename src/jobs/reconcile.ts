import type { Gateway } from '../app/context';
import { purgeExpiredIdempotencyKeys } from '../payments/idempotency';
import { expireAbandonedPayments, reconcileStuckPayments } from '../payments/reconcile';

/**
 * One reconcile pass, the same for the scheduled job and `npm run reconcile`: settle payments whose webhook
 * never came, cancel checkouts left unpaid for PAYMENT_EXPIRY_SECONDS, ask again about refunds left pending,
 * and delete idempotency keys past their retention. Safe on several instances at once: every change goes
 * through the once-only event path or the state machine's row lock. Returns one line per step.
 */
export async function reconcileOnce(gateway: Gateway, options: { olderThanSeconds: number }): Promise<string[]> {
  const settled = await reconcileStuckPayments(gateway, options);
  const expired = await expireAbandonedPayments(gateway, { olderThanSeconds: gateway.config.paymentExpirySeconds });
  const refunds = await gateway.refunds.settlePendingRefunds(options);
  const purged = await purgeExpiredIdempotencyKeys(gateway.db);
  return [
    `reconcile: examined ${settled.examined}, settled ${settled.changed}, could not ask ${settled.failed}`,
    `expire: examined ${expired.examined}, canceled ${expired.changed}, could not cancel ${expired.failed}`,
    `refunds: examined ${refunds.examined} pending, settled ${refunds.settled}`,
    `idempotency keys past retention deleted: ${purged}`,
  ];
}
