import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database';
import type { Metrics } from '../ops/metrics';
import { recordFactsOnLocked, Recorded } from '../payments/fact-journal';
import type { FactKind, PaymentFact } from '../payments/lifecycle';
import { Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from '../payments/payment';
import type { ProviderRegistry } from '../providers/registry';
import { PaymentRef, ProviderEvent, ProviderName, ProviderPaymentState, WebhookReply, WebhookRequest, WebhookVerificationError } from '../providers/types';
import { notFound } from '../shared/errors';

export type EventOutcome =
  /** The fact changed the payment's state. */
  | 'applied'
  /** The fact is kept, and the payment's state was already what it makes it (a late or repeated word). */
  | 'recorded'
  | 'duplicate'
  | 'unknown_payment'
  | 'amount_mismatch'
  | 'foreign_session'
  | 'ignored';

export interface WebhookDeps {
  db: Database;
  providers: ProviderRegistry;
  metrics: Metrics;
  logger: Logger;
  /** Called after commit for every status change (and every decline), e.g. so the risk engine can count failures. */
  onStatusChange: (payment: Payment) => void;
}

export interface Applied {
  outcome: EventOutcome;
  payment?: Payment;
  statusChanged?: boolean;
}

const PAYMENT_FACT: Record<ProviderPaymentState, FactKind> = {
  pending: 'pending',
  processing: 'processing',
  authorized: 'authorized',
  succeeded: 'paid',
  failed: 'failed',
  canceled: 'canceled',
};

/** One provider observation as the fact it records: the provider's words, nothing decided yet. */
export function factOf(provider: ProviderName, event: Exclude<ProviderEvent, { kind: 'ignored' }>, receivedAt: Date): PaymentFact {
  const base = { key: `${provider}:${event.eventId}`, occurredAt: event.occurredAt ?? receivedAt };
  switch (event.kind) {
    case 'payment':
      return { ...base, kind: PAYMENT_FACT[event.state], money: event.money, sessionRef: event.ref.providerRef };
    case 'refund':
      return {
        ...base,
        kind: `refund_${event.refund.state}`,
        money: event.refund.money,
        refundId: event.refund.refundId,
        providerRefundId: event.refund.providerRefundId,
        reportedRefundTotal: event.refund.totalRefunded,
      };
    case 'dispute':
      return { ...base, kind: `dispute_${event.dispute}`, disputeId: event.disputeId };
  }
}

/**
 * Notes the event id and row-locks the payment it is about, in one statement. The payment is found by our
 * id when the event names one (and must then be this provider's), else by the provider's session ref.
 * `fresh` is false for an event id seen before: then nothing is locked.
 */
async function noteEventAndLockPayment(tx: Sql, provider: ProviderName, event: ProviderEvent) {
  const ref: PaymentRef = event.kind === 'ignored' ? {} : event.ref;
  const row = await tx.one<PaymentRow & { fresh: boolean }>(
    `WITH noted AS (
        INSERT INTO webhook_events (provider, event_id, kind, outcome) VALUES ($1, $2, $3, 'received')
        ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id
      ), target AS (
        SELECT ${PAYMENT_COLUMNS} FROM payments
         WHERE provider = $1 AND EXISTS (SELECT 1 FROM noted) AND $3 <> 'ignored'
           AND id = COALESCE((SELECT id FROM payments WHERE id = $4), (SELECT id FROM payments WHERE provider = $1 AND provider_ref = $5))
         FOR UPDATE
      )
      SELECT target.*, EXISTS (SELECT 1 FROM noted) AS fresh FROM (SELECT 1) AS one LEFT JOIN target ON true`,
    [provider, event.eventId, event.kind, ref.paymentId ?? null, ref.providerRef ?? null],
  );
  const { fresh, ...payment } = row!;
  return { fresh, payment: payment.id ? toPayment(payment as PaymentRow) : undefined };
}

const isMoney = (fact: PaymentFact) => fact.kind === 'paid' || fact.kind === 'authorized';

function outcomeOf(recorded: Recorded): EventOutcome {
  const fact = recorded.fresh[0];
  if (!fact) return 'duplicate';
  const { payment } = recorded;
  if (isMoney(fact) && fact.sessionRef && payment.providerRef && fact.sessionRef !== payment.providerRef) return 'foreign_session';
  if (isMoney(fact) && fact.money && (fact.money.amount !== payment.amount || fact.money.currency !== payment.currency)) return 'amount_mismatch';
  const before = recorded.before;
  const changed = before.status !== payment.status || before.refundedAmount !== payment.refundedAmount || before.reviewReason !== payment.reviewReason;
  return changed ? 'applied' : 'recorded';
}

/**
 * The one path every provider observation takes once verified (a webhook, or a reconcile look): note the
 * event id (unique per provider, so a duplicate or concurrent redelivery has no effect), find our payment,
 * and record the observation as a fact, all in one transaction. What the fact means for the payment is
 * decided by the lifecycle function, from all of the payment's facts, whatever order they came in.
 */
export function createWebhookService(deps: WebhookDeps) {
  async function applyToPayment(tx: Sql, provider: ProviderName, event: ProviderEvent, found: Payment | undefined): Promise<Applied> {
    if (event.kind === 'ignored') return { outcome: 'ignored' };
    if (!found) return { outcome: 'unknown_payment' };
    const recorded = await recordFactsOnLocked(tx, found, [factOf(provider, event, new Date())]);
    return { outcome: outcomeOf(recorded), payment: recorded.payment, statusChanged: recorded.statusChanged };
  }

  /** Applies a verified event exactly once. Safe to call concurrently with the same event. */
  async function applyEvent(provider: ProviderName, event: ProviderEvent): Promise<Applied> {
    const applied = await deps.db.transaction(async (tx) => {
      const { fresh, payment } = await noteEventAndLockPayment(tx, provider, event);
      if (!fresh) return { outcome: 'duplicate' as const };
      const result = await applyToPayment(tx, provider, event, payment);
      await tx.many('UPDATE webhook_events SET outcome = $3, payment_id = $4 WHERE provider = $1 AND event_id = $2', [
        provider, event.eventId, result.outcome, result.payment?.id ?? null,
      ]);
      return result;
    });
    deps.metrics.webhooks.inc({ provider, outcome: applied.outcome });
    if (!applied.payment) return applied;
    if (applied.statusChanged) deps.metrics.paymentTransitions.inc({ provider, status: applied.payment.status });
    // Every decline counts, not only the first: card testing retries one payment sheet many times.
    const declined = event.kind === 'payment' && event.state === 'failed';
    if (applied.statusChanged || declined) deps.onStatusChange(applied.payment);
    return applied;
  }

  /** The HTTP entry point: verify, apply, and answer in the provider's own terms. */
  async function receive(providerName: string, request: WebhookRequest): Promise<WebhookReply> {
    const provider = deps.providers.get(providerName);
    if (!provider) throw notFound('webhook endpoint', 'provider');
    let event: ProviderEvent;
    try {
      event = await provider.parseWebhook(request);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      deps.metrics.webhooks.inc({ provider: provider.name, outcome: 'rejected' });
      deps.logger.warn({ provider: provider.name, reason: error.message }, 'webhook rejected');
      return provider.webhookReply('rejected');
    }
    try {
      const { outcome, payment } = await applyEvent(provider.name, event);
      deps.logger.info({ provider: provider.name, eventId: event.eventId, kind: event.kind, outcome, paymentId: payment?.id }, 'webhook processed');
      return provider.webhookReply('processed');
    } catch (error) {
      deps.logger.error({ err: error, provider: provider.name, eventId: event.eventId }, 'webhook processing failed');
      return provider.webhookReply('failed');
    }
  }

  return { receive, applyEvent };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
