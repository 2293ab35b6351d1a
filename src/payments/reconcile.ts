import type { Logger } from 'pino';
import type { Database } from '../db/database';
import type { ProviderRegistry } from '../providers/registry';
import { PaymentProvider, ProviderError, ProviderStatusSnapshot } from '../providers/types';
import type { WebhookService } from '../webhooks/service';
import { ownFact, recordFacts } from './fact-journal';
import type { PaymentFact } from './lifecycle';
import { findPayment, lockPayment, Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';

export interface ReconcileDeps {
  db: Database;
  providers: ProviderRegistry;
  webhooks: Pick<WebhookService, 'applyEvent'>;
  logger: Logger;
}

export interface ReconcileSummary {
  examined: number;
  changed: number;
  failed: number;
}

const newSummary = (examined: number): ReconcileSummary => ({ examined, changed: 0, failed: 0 });

/** Statuses whose money may still move at the provider without a webhook telling us. */
const ASKED_ABOUT = ['requires_payment', 'processing', 'failed'];

function askableProviders(deps: ReconcileDeps): string[] {
  return deps.providers.names.filter((name) => deps.providers.get(name)?.capabilities.statusQueries !== false);
}

const moneyOf = (payment: Payment) => ({ amount: payment.amount, currency: payment.currency });
const operationInput = (payment: Payment) => ({ paymentId: payment.id, providerRef: payment.providerRef!, money: moneyOf(payment) });

/**
 * Asks the provider where the payment stands and records the answer as a fact through the webhook path,
 * keyed by the observation (so asking twice, or alongside a late webhook, has effect once).
 */
async function observe(deps: ReconcileDeps, provider: PaymentProvider, payment: Payment): Promise<{ snapshot: ProviderStatusSnapshot; changed: boolean }> {
  const snapshot = await provider.fetchStatus(operationInput(payment));
  const { outcome } = await deps.webhooks.applyEvent(provider.name, {
    kind: 'payment',
    eventId: `reconcile:${snapshot.observationId}`,
    ref: { paymentId: payment.id },
    state: snapshot.state,
    money: snapshot.money,
  });
  return { snapshot, changed: outcome === 'applied' || outcome === 'amount_mismatch' };
}

async function record(deps: ReconcileDeps, payment: Payment, facts: PaymentFact[]): Promise<Payment> {
  return (await deps.db.transaction((tx) => recordFacts(tx, payment.id, facts))).payment;
}

/** Records that we stopped waiting, unless, under the row lock, the payment turns out to have moved on meanwhile. */
async function recordExpiry(deps: ReconcileDeps, payment: Payment, facts: PaymentFact[]): Promise<Payment | undefined> {
  return deps.db.transaction(async (tx) => {
    const locked = await lockPayment(tx, payment.id);
    if (!locked || !STILL_UNPAID.has(locked.status)) return undefined;
    return (await recordFacts(tx, payment.id, [ownFact('expired', 'gateway:expired'), ...facts])).payment;
  });
}

/** Closes the session at the provider; true once the provider confirmed it can no longer be paid. */
async function closeSession(deps: ReconcileDeps, provider: PaymentProvider, payment: Payment): Promise<boolean> {
  try {
    await provider.cancel(operationInput(payment));
    return true;
  } catch (error) {
    deps.logger.warn({ err: error, paymentId: payment.id }, 'could not close a provider session; reconcile asks again');
    return false;
  }
}

const sessionClosed = () => ownFact('canceled', 'gateway:session_closed');

/**
 * Settles payments whose webhook never came: those waiting on the payer or the provider, declined ones
 * (a declined attempt can still be paid on retry in the provider's sheet), and canceled ones whose session
 * we could not close. Each run takes the least recently asked first and marks them asked, so every stuck
 * payment is reached in turn however many abandoned ones there are; among those never asked, the newest
 * first (a checkout just paid is likelier than one abandoned for hours).
 */
export async function reconcileStuckPayments(deps: ReconcileDeps, options: { olderThanSeconds: number; limit?: number }): Promise<ReconcileSummary> {
  const rows = await deps.db.many<PaymentRow>(
    `UPDATE payments SET last_checked_at = now()
      WHERE id IN (
        SELECT id FROM payments
         WHERE (status = ANY($1) OR session_close_outstanding) AND provider = ANY($2) AND provider_ref IS NOT NULL
           AND updated_at < now() - make_interval(secs => $3)
         ORDER BY last_checked_at NULLS FIRST, created_at DESC LIMIT $4 FOR UPDATE SKIP LOCKED)
      RETURNING ${PAYMENT_COLUMNS}`,
    [ASKED_ABOUT, askableProviders(deps), options.olderThanSeconds, options.limit ?? 500],
  );
  const summary = newSummary(rows.length);
  for (const payment of rows.map(toPayment)) {
    const provider = deps.providers.get(payment.provider)!;
    try {
      const { snapshot, changed } = await observe(deps, provider, payment);
      if (changed) summary.changed += 1;
      const now = (await findPayment(deps.db, payment.id))!;
      if (now.sessionCloseOutstanding && (snapshot.state === 'pending' || snapshot.state === 'failed') && (await closeSession(deps, provider, now))) {
        await record(deps, now, [sessionClosed()]);
      }
    } catch (error) {
      summary.failed += 1;
      const kind = error instanceof ProviderError ? error.kind : 'unexpected';
      deps.logger.warn({ err: error, paymentId: payment.id, kind }, 'reconcile could not settle a payment');
    }
  }
  return summary;
}

/** Unpaid as far as anyone knows: nothing in flight at the provider. */
const STILL_UNPAID = new Set(['requires_payment', 'requires_verification', 'failed']);

/**
 * Expires one abandoned checkout: asks the provider first (money that arrived without a webhook is
 * recorded, not canceled over), then closes the session and records that we stopped waiting. When the
 * provider cannot close it, the payment is canceled all the same and reconcile retries the close; money
 * that arrives on it anyway is held for a person (`paid_after_cancel`).
 */
async function expire(deps: ReconcileDeps, payment: Payment): Promise<boolean> {
  const provider = payment.providerRef ? deps.providers.get(payment.provider) : undefined;
  if (!provider) return (await recordExpiry(deps, payment, []))?.status === 'canceled';
  if (provider.capabilities.statusQueries !== false) {
    await observe(deps, provider, payment);
    const now = (await findPayment(deps.db, payment.id))!;
    if (!STILL_UNPAID.has(now.status)) return false;
  }
  const closed = await closeSession(deps, provider, payment);
  const expired = await recordExpiry(deps, payment, closed ? [sessionClosed()] : []);
  // The payer may have paid between our look and the close: look once more so that money is not missed.
  if (expired && !closed && provider.capabilities.statusQueries !== false) await observe(deps, provider, expired).catch(() => undefined);
  return Boolean(expired);
}

/**
 * Cancels checkouts nobody paid: still waiting for the payer (or for step-up verification), or declined,
 * `olderThanSeconds` after they were created. A checkout whose key a request is working on right now is
 * left alone. A session opened after the cancel is never stored (the checkout closes it again).
 */
export async function expireAbandonedPayments(deps: ReconcileDeps, options: { olderThanSeconds: number; limit?: number }): Promise<ReconcileSummary> {
  const rows = await deps.db.many<PaymentRow>(
    `SELECT ${PAYMENT_COLUMNS} FROM payments p
      WHERE p.status = ANY($1) AND p.created_at < now() - make_interval(secs => $2)
        AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.payment_id = p.id AND k.response_status IS NULL AND k.locked_until > now())
      ORDER BY p.created_at LIMIT $3`,
    [[...STILL_UNPAID], options.olderThanSeconds, options.limit ?? 500],
  );
  const summary = newSummary(rows.length);
  for (const payment of rows.map(toPayment)) {
    try {
      if (await expire(deps, payment)) summary.changed += 1;
    } catch (error) {
      summary.failed += 1;
      deps.logger.warn({ err: error, paymentId: payment.id }, 'could not expire an abandoned payment');
    }
  }
  return summary;
}
