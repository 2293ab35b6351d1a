import type { Logger } from 'pino';
import type { Database } from '../db/database';
import type { ProviderRegistry } from '../providers/registry';
import { ProviderError } from '../providers/types';
import type { WebhookService } from '../webhooks/service';
import type { Payment } from './payment';
import { transition } from './state-machine';
import { AWAITING_PROVIDER_STATUSES } from './status';

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

/**
 * Settles payments whose webhook never came: asks the provider where each stuck payment stands and feeds
 * the answer through the webhook path as a synthetic event (keyed by the observation, so running
 * reconcile twice, or alongside a late webhook, has effect once).
 */
export async function reconcileStuckPayments(deps: ReconcileDeps, options: { olderThanSeconds: number; limit?: number }): Promise<ReconcileSummary> {
  const askable = deps.providers.names.filter((name) => deps.providers.get(name)?.capabilities.statusQueries !== false);
  const stuck = await deps.db.many<{ id: string; provider: string; provider_ref: string; amount: string; currency: string }>(
    `SELECT id, provider, provider_ref, amount, currency FROM payments
      WHERE status = ANY($1) AND provider = ANY($2) AND provider_ref IS NOT NULL AND updated_at < now() - make_interval(secs => $3)
      ORDER BY updated_at LIMIT $4`,
    [AWAITING_PROVIDER_STATUSES, askable, options.olderThanSeconds, options.limit ?? 500],
  );
  const summary: ReconcileSummary = { examined: stuck.length, changed: 0, failed: 0 };
  for (const row of stuck) {
    const provider = deps.providers.get(row.provider);
    if (!provider) continue;
    try {
      const money = { amount: Number(row.amount), currency: row.currency };
      const snapshot = await provider.fetchStatus({ paymentId: row.id, providerRef: row.provider_ref, money });
      const { outcome } = await deps.webhooks.applyEvent(provider.name, {
        kind: 'payment',
        eventId: `reconcile:${snapshot.observationId}`,
        ref: { paymentId: row.id },
        state: snapshot.state,
        money: snapshot.money,
      });
      if (outcome === 'applied' || outcome === 'amount_mismatch') summary.changed += 1;
    } catch (error) {
      summary.failed += 1;
      const kind = error instanceof ProviderError ? error.kind : 'unexpected';
      deps.logger.warn({ err: error, paymentId: row.id, kind }, 'reconcile could not settle a payment');
    }
  }
  return summary;
}

/**
 * Cancels checkouts nobody paid: a payment still waiting for the payer (or for step-up verification)
 * after `olderThanSeconds` is marked `canceled` under its row lock, then its provider session (as stored
 * under that lock) is closed so it can no longer be paid. A checkout whose key a request is working on
 * right now is left alone. A session opened after the cancel is never stored (the checkout only stores a
 * session on a payment still waiting for payment), and money that arrives anyway is held for review
 * (`paid_after_cancel`) rather than lost. Run after reconcileStuckPayments, so a payment that did succeed
 * is settled first.
 */
export async function expireAbandonedPayments(deps: ReconcileDeps, options: { olderThanSeconds: number; limit?: number }): Promise<ReconcileSummary> {
  const abandoned = await deps.db.many<{ id: string }>(
    `SELECT p.id FROM payments p
      WHERE p.status IN ('requires_payment', 'requires_verification') AND p.created_at < now() - make_interval(secs => $1)
        AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.payment_id = p.id AND k.response_status IS NULL AND k.locked_until > now())
      ORDER BY p.created_at LIMIT $2`,
    [options.olderThanSeconds, options.limit ?? 500],
  );
  const summary: ReconcileSummary = { examined: abandoned.length, changed: 0, failed: 0 };
  for (const { id } of abandoned) {
    try {
      const canceled = await deps.db.transaction(async (tx) => {
        const result = await transition(tx, id, 'canceled', 'expired:abandoned');
        return result.outcome === 'applied' ? result.payment : undefined;
      });
      if (!canceled) continue;
      summary.changed += 1;
      await closeSession(deps, canceled);
    } catch (error) {
      summary.failed += 1;
      deps.logger.warn({ err: error, paymentId: id }, 'could not expire an abandoned payment');
    }
  }
  return summary;
}

/** Best effort: a session left open can still be paid, and that money is then held for review, not lost. */
async function closeSession(deps: ReconcileDeps, payment: Payment): Promise<void> {
  const provider = deps.providers.get(payment.provider);
  if (!provider || !payment.providerRef) return;
  try {
    await provider.cancel({ paymentId: payment.id, providerRef: payment.providerRef, money: { amount: payment.amount, currency: payment.currency } });
  } catch (error) {
    deps.logger.warn({ err: error, paymentId: payment.id }, 'expired payment canceled, but its provider session could not be closed');
  }
}
