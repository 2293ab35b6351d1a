import { DatabaseError } from 'pg';
import type { Logger } from 'pino';
import type { Database, Params, Sql } from '../db/database';
import type { Metrics } from '../ops/metrics';
import {
  FactRow, factsFromJson, factsJsonOf, FactsRead, lifecycleContext, recordFactIfUnchanged, recordFactsOnLocked, touchesRefunds,
} from '../payments/fact-journal';
import { derivePaymentState, FactKind, PaymentFact, PaymentState } from '../payments/lifecycle';
import { Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from '../payments/payment';
import type { ProviderRegistry } from '../providers/registry';
import { ProviderEvent, ProviderName, ProviderPaymentState, WebhookReply, WebhookRequest, WebhookVerificationError } from '../providers/types';
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

type FactEvent = Exclude<ProviderEvent, { kind: 'ignored' }>;

const PAYMENT_FACT: Record<ProviderPaymentState, FactKind> = {
  pending: 'pending',
  processing: 'processing',
  authorized: 'authorized',
  succeeded: 'paid',
  failed: 'failed',
  canceled: 'canceled',
};

/** One provider observation as the fact it records: the provider's words, nothing decided yet. */
export function factOf(provider: ProviderName, event: FactEvent, receivedAt: Date): PaymentFact {
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
 * The locked way's first statement: notes the event id and row-locks the payment it is about. The payment
 * is found by our id when the event names one (and must then be this provider's), else by the provider's
 * session ref. `fresh` is false for an event id seen before: then nothing is locked.
 */
async function noteEventAndLockPayment(tx: Sql, provider: ProviderName, event: FactEvent) {
  const { ref } = event;
  const row = await tx.one<PaymentRow & { fresh: boolean }>(
    `WITH noted AS (
        INSERT INTO webhook_events (provider, event_id, kind, outcome) VALUES ($1, $2, $3, 'received')
        ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id
      ), target AS (
        SELECT ${PAYMENT_COLUMNS} FROM payments
         WHERE provider = $1 AND EXISTS (SELECT 1 FROM noted)
           AND id = COALESCE((SELECT id FROM payments WHERE id = $4), (SELECT id FROM payments WHERE provider = $1 AND provider_ref = $5))
         FOR UPDATE
      )
      SELECT target.*, EXISTS (SELECT 1 FROM noted) AS fresh FROM (SELECT 1) AS one LEFT JOIN target ON true`,
    [provider, event.eventId, event.kind, ref.paymentId ?? null, ref.providerRef ?? null],
  );
  const { fresh, ...payment } = row!;
  return { fresh, payment: payment.id ? toPayment(payment as PaymentRow) : undefined };
}

/**
 * Statement 1 of the common path, without a lock: whether the event id was seen before, and the payment
 * it is about (found as noteEventAndLockPayment finds it) with all of its facts, from one snapshot. `now`
 * is the database's clock, the one every fact's recorded_at is on.
 */
async function readEvent(sql: Sql, provider: ProviderName, event: FactEvent) {
  const row = await sql.one<PaymentRow & { seen: boolean; now: Date; facts: FactRow[] | null }>(
    `SELECT EXISTS (SELECT 1 FROM webhook_events WHERE provider = $1 AND event_id = $2) AS seen, clock_timestamp() AS now,
            target.*, ${factsJsonOf('target')} AS facts
       FROM (SELECT 1) AS one LEFT JOIN (
         SELECT ${PAYMENT_COLUMNS} FROM payments
          WHERE provider = $1
            AND id = COALESCE((SELECT id FROM payments WHERE id = $3), (SELECT id FROM payments WHERE provider = $1 AND provider_ref = $4))
       ) AS target ON true`,
    [provider, event.eventId, event.ref.paymentId ?? null, event.ref.providerRef ?? null],
  );
  const { seen, now, facts, ...payment } = row!;
  const read: FactsRead | undefined = payment.id ? { payment: toPayment(payment as PaymentRow), facts: factsFromJson(facts) } : undefined;
  return { seen, now, read };
}

/** The webhook_events row of an event whose fact the payment write records, as a CTE chained on that write. */
const noteWithFact = (provider: ProviderName, event: FactEvent, outcome: EventOutcome) => (p: Params) => [
  `noted AS (
     INSERT INTO webhook_events (provider, event_id, kind, outcome, payment_id)
     SELECT ${p.add(provider)}, ${p.add(event.eventId)}, ${p.add(event.kind)}, ${p.add(outcome)}, id FROM updated
   )`,
];

/**
 * A concurrent delivery of the same event got in first and the write did nothing: it noted the event
 * without writing a fact (say, before the payment had its session), or it took the locked way, which notes
 * the event before it locks the payment, the reverse of our order, and PostgreSQL broke the deadlock.
 */
const lostToSameEvent = (error: unknown) =>
  error instanceof DatabaseError &&
  ((error.code === '23505' && error.constraint === 'webhook_events_pkey') || error.code === '40P01');

/** The locked way's fact: recorded under the row lock noteEventAndLockPayment took, when it found our payment. */
async function recordLocked(tx: Sql, found: Payment | undefined, fact: PaymentFact): Promise<Applied> {
  if (!found) return { outcome: 'unknown_payment' };
  const recorded = await recordFactsOnLocked(tx, found, [fact]);
  return { outcome: outcomeOf(recorded.fresh[0], recorded.before, recorded.payment), payment: recorded.payment, statusChanged: recorded.statusChanged };
}

/** How often the common path reads again after a concurrent write to the payment, before it takes the row lock instead. */
const OPTIMISTIC_ATTEMPTS = 5;

const isMoney = (fact: PaymentFact) => fact.kind === 'paid' || fact.kind === 'authorized';

type StateShown = Pick<PaymentState, 'status' | 'refundedAmount' | 'reviewReason'>;

/** What the event did, from its fact (undefined when it was recorded before), the payment before it, and the state after. */
function outcomeOf(fact: PaymentFact | undefined, before: Payment, after: StateShown): EventOutcome {
  if (!fact) return 'duplicate';
  if (isMoney(fact) && fact.sessionRef && before.providerRef && fact.sessionRef !== before.providerRef) return 'foreign_session';
  if (isMoney(fact) && fact.money && (fact.money.amount !== before.amount || fact.money.currency !== before.currency)) return 'amount_mismatch';
  const changed = before.status !== after.status || before.refundedAmount !== after.refundedAmount || before.reviewReason !== after.reviewReason;
  return changed ? 'applied' : 'recorded';
}

/**
 * The one path every provider observation takes once verified (a webhook, or a reconcile look): note the
 * event id (unique per provider, so a duplicate or concurrent redelivery has no effect), find our payment,
 * and record the observation as a fact with the state it derives, all or nothing. What the fact means for
 * the payment is decided by the lifecycle function, from all of the payment's facts, whatever order they
 * came in.
 *
 * The common case takes two autocommit statements and no transaction: one read (event id seen? the
 * payment and its facts), one write (the fact, the state, its history row and the event's row, only if the
 * payment's version is still the one read; see recordFactIfUnchanged). A redelivery takes the read alone;
 * an event for no payment of ours, the read and an insert of the event's row; an ignored event, that
 * insert alone. A write that lost to a concurrent one reads again. Refund facts (their refunds list takes
 * several statements), a fact recorded before (its event row deleted by retention), and a payment written
 * to by others on every attempt go the locked way: one transaction, the payment row-locked while its
 * facts are read and written.
 */
export function createWebhookService(deps: WebhookDeps) {
  /** Notes an event that records no fact, in one statement; a conflict means its id was seen before. */
  async function noteOnly(provider: ProviderName, event: ProviderEvent, outcome: 'ignored' | 'unknown_payment'): Promise<Applied> {
    const noted = await deps.db.one(
      `INSERT INTO webhook_events (provider, event_id, kind, outcome) VALUES ($1, $2, $3, $4)
       ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id`,
      [provider, event.eventId, event.kind, outcome],
    );
    return { outcome: noted ? outcome : 'duplicate' };
  }

  /** The fact, its state and the event's row in one statement; undefined when the payment changed since `read` (nothing written). */
  async function applyIfUnchanged(provider: ProviderName, event: FactEvent, fact: PaymentFact & { recordedAt: Date }, read: FactsRead) {
    const before = read.payment;
    const state = derivePaymentState([...read.facts, fact], lifecycleContext(before));
    const outcome = outcomeOf(fact, before, state);
    try {
      const payment = await recordFactIfUnchanged(deps.db, read, fact, state, noteWithFact(provider, event, outcome));
      return payment && { outcome, payment, statusChanged: payment.status !== before.status };
    } catch (error) {
      if (lostToSameEvent(error)) return undefined; // read again: the event is a duplicate now
      throw error;
    }
  }

  /** Optimistic attempts first (see the comment above createWebhookService); the locked way when they cannot do. */
  async function apply(provider: ProviderName, event: ProviderEvent): Promise<Applied> {
    if (event.kind === 'ignored') return noteOnly(provider, event, 'ignored');
    const fact = factOf(provider, event, new Date());
    if (touchesRefunds([fact])) return applyLocked(provider, event, fact);
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const { seen, now, read } = await readEvent(deps.db, provider, event);
      if (seen) return { outcome: 'duplicate' };
      if (!read) return noteOnly(provider, event, 'unknown_payment');
      // Recorded before, its event row since deleted by retention: rare, so the locked way decides as it always did.
      if (read.facts.some((known) => known.key === fact.key)) break;
      const applied = await applyIfUnchanged(provider, event, { ...fact, recordedAt: now }, read);
      if (applied) return applied;
    }
    return applyLocked(provider, event, fact);
  }

  /** The locked way: one transaction that notes the event, row-locks the payment, and records the fact under that lock. */
  function applyLocked(provider: ProviderName, event: FactEvent, fact: PaymentFact): Promise<Applied> {
    return deps.db.transaction(async (tx) => {
      const { fresh, payment } = await noteEventAndLockPayment(tx, provider, event);
      if (!fresh) return { outcome: 'duplicate' as const };
      const result = await recordLocked(tx, payment, fact);
      await tx.many('UPDATE webhook_events SET outcome = $3, payment_id = $4 WHERE provider = $1 AND event_id = $2', [
        provider, event.eventId, result.outcome, result.payment?.id ?? null,
      ]);
      return result;
    });
  }

  /** Applies a verified event exactly once. Safe to call concurrently with the same event, from any number of gateways. */
  async function applyEvent(provider: ProviderName, event: ProviderEvent): Promise<Applied> {
    const applied = await apply(provider, event);
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
