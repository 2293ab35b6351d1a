import type { Logger } from 'pino';
import type { Database, Sql } from '../db/database';
import type { Metrics } from '../ops/metrics';
import { findPayment, findPaymentByProviderRef, lockPayment, Payment } from '../payments/payment';
import { applyRefundedTotal, refundTotal, statusForRefunded } from '../payments/refund-totals';
import { transition, TransitionResult } from '../payments/state-machine';
import type { PaymentStatus } from '../payments/status';
import type { ProviderRegistry } from '../providers/registry';
import {
  PaymentRef,
  ProviderEvent,
  ProviderName,
  ProviderPaymentState,
  RefundNotice,
  WebhookReply,
  WebhookRequest,
  WebhookVerificationError,
} from '../providers/types';
import { newId } from '../shared/ids';
import { notFound } from '../shared/errors';

export type EventOutcome =
  | 'applied'
  | 'unchanged'
  | 'refused'
  | 'duplicate'
  | 'unknown_payment'
  | 'amount_mismatch'
  | 'ignored';

export interface WebhookDeps {
  db: Database;
  providers: ProviderRegistry;
  metrics: Metrics;
  logger: Logger;
  /** Called after commit for every status change, e.g. so the risk engine can count failures. */
  onStatusChange: (payment: Payment) => void;
}

interface Applied {
  outcome: EventOutcome;
  payment?: Payment;
}

function fromTransition(result: TransitionResult): Applied {
  return { outcome: result.outcome, payment: result.payment };
}

/** A success for a payment the risk layer sent to review is held, not fulfilled, until a person decides. */
function targetForSuccess(payment: Payment): { status: PaymentStatus; reviewReason?: string } {
  if (payment.status === 'canceled') return { status: 'held_for_review', reviewReason: 'paid_after_cancel' };
  if (payment.riskDecision === 'review') return { status: 'held_for_review', reviewReason: 'risk_review' };
  return { status: 'succeeded' };
}

/**
 * A held payment waits for a person: no provider event releases money that already arrived (a second
 * success, Alipay's TRADE_FINISHED after TRADE_SUCCESS) or loses it (a late decline). An authorisation
 * (manual capture) is different: only staff can capture it (through the review, or the provider's
 * dashboard), so its capture releases it, and a void or expiry at the provider cancels it.
 */
function targetWhileHeld(payment: Payment, state: ProviderPaymentState): { status: PaymentStatus } | undefined {
  if (payment.captureMethod !== 'manual') return undefined;
  if (state === 'succeeded') return { status: 'succeeded' };
  return state === 'canceled' || state === 'failed' ? { status: 'canceled' } : undefined;
}

function targetFor(payment: Payment, state: ProviderPaymentState): { status: PaymentStatus; reviewReason?: string } | undefined {
  if (payment.status === 'held_for_review') return targetWhileHeld(payment, state);
  switch (state) {
    case 'pending':
      return undefined;
    case 'processing':
      return { status: 'processing' };
    case 'authorized':
      return { status: 'held_for_review', reviewReason: payment.riskDecision === 'review' ? 'risk_review' : 'awaiting_capture' };
    case 'succeeded':
      return targetForSuccess(payment);
    case 'failed':
      return { status: 'failed' };
    case 'canceled':
      return { status: 'canceled' };
  }
}

async function resolvePayment(tx: Sql, provider: ProviderName, ref: PaymentRef): Promise<Payment | undefined> {
  const byId = ref.paymentId ? await findPayment(tx, ref.paymentId) : undefined;
  if (byId) return byId.provider === provider ? byId : undefined;
  return ref.providerRef ? findPaymentByProviderRef(tx, provider, ref.providerRef) : undefined;
}

/**
 * The one path every provider notification takes once its signature is verified: record the event id
 * (unique per provider, so a duplicate or concurrent redelivery has no effect), find our payment, and move
 * it through the state machine, all in one transaction. Reconciliation feeds provider snapshots through
 * the same path.
 */
export function createWebhookService(deps: WebhookDeps) {
  async function applyPaymentState(tx: Sql, payment: Payment, event: Extract<ProviderEvent, { kind: 'payment' }>, source: string): Promise<Applied> {
    const paid = event.state === 'succeeded' || event.state === 'authorized';
    if (paid && event.money && (event.money.amount !== payment.amount || event.money.currency !== payment.currency)) {
      const held = await transition(tx, payment.id, 'held_for_review', source, { reviewReason: 'amount_mismatch' });
      return { outcome: 'amount_mismatch', payment: held.payment };
    }
    // Money paid on another session than the one we opened (say, a second intent carrying our payment id)
    // must be looked at by a person, not folded into this payment as if it were the same charge.
    if (paid && event.ref.providerRef && payment.providerRef && event.ref.providerRef !== payment.providerRef) {
      await tx.many("UPDATE payments SET review_reason = 'foreign_session_paid', updated_at = now() WHERE id = $1", [payment.id]);
      return { outcome: 'refused', payment };
    }
    const target = targetFor(payment, event.state);
    if (!target) return { outcome: 'ignored', payment };
    return fromTransition(await transition(tx, payment.id, target.status, source, { reviewReason: target.reviewReason }));
  }

  /**
   * Refund rows only move forward: pending → succeeded or failed, succeeded → failed when the provider
   * reports that a refund bounced (a closed card), and failed → succeeded when the provider reports one we
   * took for failed did go through (its word on money wins). A late `pending` never undoes a settled refund.
   * A bounced refund keeps the payment's refunded total (totals only grow) but flags the payment for a person.
   */
  async function settleKnownRefund(tx: Sql, payment: Payment, refund: { id: string; status: string }, notice: RefundNotice) {
    const moved = await tx.one(
      `UPDATE refunds SET status = $2, provider_refund_id = COALESCE(provider_refund_id, $3), updated_at = now()
        WHERE id = $1 AND (status = 'pending' OR (status = 'succeeded' AND $2 = 'failed') OR (status = 'failed' AND $2 = 'succeeded'))
        RETURNING id`,
      [refund.id, notice.state, notice.providerRefundId ?? null],
    );
    if (moved && refund.status === 'succeeded') {
      await tx.many("UPDATE payments SET review_reason = 'refund_bounced', updated_at = now() WHERE id = $1", [payment.id]);
    }
  }

  /**
   * A refund made outside the gateway (e.g. in the provider's dashboard) still belongs in the record.
   * Providers that report only the running total (Alipay's refund_fee) tell us its size by difference.
   */
  async function recordOutsideRefund(tx: Sql, payment: Payment, notice: RefundNotice) {
    // Our own pending refunds count too: the provider's total may already include them.
    const amount = notice.totalRefunded !== undefined ? notice.totalRefunded - (await refundTotal(tx, payment.id, ['pending', 'succeeded'])) : notice.money.amount;
    if (amount <= 0) return;
    await tx.many(
      "INSERT INTO refunds (id, payment_id, amount, currency, status, reason, provider_refund_id) VALUES ($1, $2, $3, $4, $5, 'provider_initiated', $6)",
      [newId('re'), payment.id, amount, notice.money.currency, notice.state, notice.providerRefundId ?? null],
    );
  }

  async function applyRefund(tx: Sql, payment: Payment, notice: RefundNotice, source: string): Promise<Applied> {
    const known = await tx.one<{ id: string; status: string }>(
      'SELECT id, status FROM refunds WHERE payment_id = $1 AND (id = $2 OR provider_refund_id = $3) FOR UPDATE',
      [payment.id, notice.refundId ?? null, notice.providerRefundId ?? null],
    );
    if (known) await settleKnownRefund(tx, payment, known, notice);
    else await recordOutsideRefund(tx, payment, notice);
    if (notice.state !== 'succeeded') return { outcome: 'applied', payment };
    const total = Math.max(notice.totalRefunded ?? 0, await refundTotal(tx, payment.id));
    return fromTransition(await applyRefundedTotal(tx, payment, total, source));
  }

  /**
   * A dispute on held money keeps it held and tells the reviewer (a refund would pay it back twice). A
   * closing dispute only concerns a disputed payment; won, it returns to what its refunds make it.
   */
  async function applyDispute(tx: Sql, payment: Payment, dispute: 'opened' | 'won' | 'lost', source: string): Promise<Applied> {
    if (dispute === 'opened' && payment.status === 'held_for_review') {
      await tx.many("UPDATE payments SET review_reason = 'dispute_opened', updated_at = now() WHERE id = $1", [payment.id]);
      return { outcome: 'applied', payment };
    }
    if (dispute === 'opened') return fromTransition(await transition(tx, payment.id, 'disputed', source));
    if (dispute === 'lost' || payment.status !== 'disputed') return { outcome: 'unchanged', payment };
    return fromTransition(await transition(tx, payment.id, statusForRefunded(payment, payment.refundedAmount), source));
  }

  async function applyToPayment(tx: Sql, provider: ProviderName, event: ProviderEvent): Promise<Applied> {
    if (event.kind === 'ignored') return { outcome: 'ignored' };
    const found = await resolvePayment(tx, provider, event.ref);
    if (!found) return { outcome: 'unknown_payment' };
    const payment = (await lockPayment(tx, found.id))!;
    const source = `${provider}:${event.eventId}`;
    switch (event.kind) {
      case 'payment':
        return applyPaymentState(tx, payment, event, source);
      case 'refund':
        return applyRefund(tx, payment, event.refund, source);
      case 'dispute':
        return applyDispute(tx, payment, event.dispute, source);
    }
  }

  /** Applies a verified event exactly once. Safe to call concurrently with the same event. */
  async function applyEvent(provider: ProviderName, event: ProviderEvent): Promise<Applied> {
    const applied = await deps.db.transaction(async (tx) => {
      const fresh = await tx.one(
        `INSERT INTO webhook_events (provider, event_id, kind, outcome) VALUES ($1, $2, $3, 'received')
         ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id`,
        [provider, event.eventId, event.kind],
      );
      if (!fresh) return { outcome: 'duplicate' as const };
      const result = await applyToPayment(tx, provider, event);
      await tx.many('UPDATE webhook_events SET outcome = $3, payment_id = $4 WHERE provider = $1 AND event_id = $2', [
        provider, event.eventId, result.outcome, result.payment?.id ?? null,
      ]);
      return result;
    });
    deps.metrics.webhooks.inc({ provider, outcome: applied.outcome });
    if (applied.payment && (applied.outcome === 'applied' || applied.outcome === 'amount_mismatch')) {
      deps.metrics.paymentTransitions.inc({ provider, status: applied.payment.status });
      deps.onStatusChange(applied.payment);
    } else if (applied.payment && applied.outcome === 'unchanged' && event.kind === 'payment' && event.state === 'failed') {
      // Every decline counts, not only the first: card testing retries one payment sheet many times.
      deps.onStatusChange(applied.payment);
    }
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
      const { outcome } = await applyEvent(provider.name, event);
      deps.logger.info({ provider: provider.name, eventId: event.eventId, kind: event.kind, outcome }, 'webhook processed');
      return provider.webhookReply('processed');
    } catch (error) {
      deps.logger.error({ err: error, provider: provider.name, eventId: event.eventId }, 'webhook processing failed');
      return provider.webhookReply('failed');
    }
  }

  return { receive, applyEvent };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
