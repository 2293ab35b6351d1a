import type { Sql } from '../db/database';
import { notFound } from '../shared/errors';
import { derivedId } from '../shared/ids';
import { derivePaymentState, DerivedRefund, FactKind, LifecycleContext, PaymentFact, PaymentState } from './lifecycle';
import { lockPayment, Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';

/**
 * The only way a payment's state changes: record facts under the payment's row lock (once each, by key),
 * derive the state from all of the payment's facts, and persist what changed (status, totals, a history
 * row, the refunds list) in the same transaction. Every path locks the payment row first and only then
 * touches its refunds, so no two paths can deadlock on each other.
 */

export interface Recorded {
  /** The payment after the facts. */
  payment: Payment;
  before: Payment;
  state: PaymentState;
  /** The facts that were new (a fact recorded before is not applied twice). */
  fresh: PaymentFact[];
  statusChanged: boolean;
}

interface FactRow {
  fact_key: string;
  kind: FactKind;
  amount: string | null;
  currency: string | null;
  session_ref: string | null;
  refund_id: string | null;
  provider_refund_id: string | null;
  reported_refund_total: string | null;
  dispute_id: string | null;
  occurred_at: Date;
  recorded_at: Date;
}

function toFact(row: FactRow): PaymentFact {
  return {
    kind: row.kind,
    key: row.fact_key,
    money: row.amount === null ? undefined : { amount: Number(row.amount), currency: row.currency! },
    sessionRef: row.session_ref ?? undefined,
    refundId: row.refund_id ?? undefined,
    providerRefundId: row.provider_refund_id ?? undefined,
    reportedRefundTotal: row.reported_refund_total === null ? undefined : Number(row.reported_refund_total),
    disputeId: row.dispute_id ?? undefined,
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
  };
}

export async function paymentFacts(sql: Sql, paymentId: string): Promise<PaymentFact[]> {
  const rows = await sql.many<FactRow>(
    `SELECT fact_key, kind, amount, currency, session_ref, refund_id, provider_refund_id, reported_refund_total, dispute_id, occurred_at,
            recorded_at
       FROM payment_facts WHERE payment_id = $1 ORDER BY id`,
    [paymentId],
  );
  return rows.map(toFact);
}

export const lifecycleContext = (payment: Payment): LifecycleContext => ({
  amount: payment.amount,
  currency: payment.currency,
  riskDecision: payment.riskDecision,
  captureMethod: payment.captureMethod,
  providerRef: payment.providerRef,
});

/** The payment's state as its facts make it, for a caller that must check it under the row lock first. */
export async function currentState(tx: Sql, payment: Payment): Promise<PaymentState> {
  return derivePaymentState(await paymentFacts(tx, payment.id), lifecycleContext(payment));
}

const FACT_COLUMNS = `fact_key, kind, amount, currency, session_ref, refund_id, provider_refund_id, reported_refund_total, dispute_id, occurred_at`;

/**
 * Inserts the facts not recorded yet and reads all of the payment's facts back, in one statement. Run under
 * the payment's row lock: the statement's snapshot is then taken after the lock, so it sees every fact
 * committed before; the facts it inserts itself come from its RETURNING (a snapshot never shows those).
 */
async function insertAndReadFacts(tx: Sql, paymentId: string, facts: PaymentFact[]): Promise<{ all: PaymentFact[]; freshKeys: Set<string> }> {
  const rows = facts.map((fact) => ({
    fact_key: fact.key, kind: fact.kind, amount: fact.money?.amount ?? null, currency: fact.money?.currency ?? null,
    session_ref: fact.sessionRef ?? null, refund_id: fact.refundId ?? null, provider_refund_id: fact.providerRefundId ?? null,
    reported_refund_total: fact.reportedRefundTotal ?? null, dispute_id: fact.disputeId ?? null, occurred_at: fact.occurredAt.toISOString(),
  }));
  const read = await tx.many<FactRow & { fresh: boolean }>(
    `WITH fresh AS (
        INSERT INTO payment_facts (payment_id, ${FACT_COLUMNS})
        SELECT $1, f.* FROM json_to_recordset($2::json) AS f(fact_key text, kind text, amount bigint, currency text, session_ref text,
          refund_id text, provider_refund_id text, reported_refund_total bigint, dispute_id text, occurred_at timestamptz)
        ON CONFLICT (payment_id, fact_key) DO NOTHING
        RETURNING id, ${FACT_COLUMNS}, recorded_at
      )
      SELECT id, ${FACT_COLUMNS}, recorded_at, false AS fresh FROM payment_facts WHERE payment_id = $1
      UNION ALL SELECT *, true FROM fresh
      ORDER BY id`,
    [paymentId, JSON.stringify(rows)],
  );
  return { all: read.map(toFact), freshKeys: new Set(read.filter((row) => row.fresh).map((row) => row.fact_key)) };
}

/** A refund the provider named but we never asked for gets a stable id, so each new fact finds its row again. */
const refundRowId = (paymentId: string, refund: DerivedRefund) => refund.refundId ?? derivedId('re', `${paymentId}:${refund.key}`);

/** The refunds table is the derived list of a payment's refunds: ours, and those the provider reported. */
async function persistRefunds(tx: Sql, payment: Payment, refunds: DerivedRefund[]): Promise<void> {
  for (const refund of refunds) {
    await tx.many(
      `INSERT INTO refunds (id, payment_id, amount, currency, status, reason, provider_refund_id)
       VALUES ($1, $2, $3, $4, $5, 'provider_initiated', $6)
       ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount, status = EXCLUDED.status,
         provider_refund_id = COALESCE(EXCLUDED.provider_refund_id, refunds.provider_refund_id), updated_at = now()
       WHERE (refunds.amount, refunds.status, refunds.provider_refund_id)
         IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.status, COALESCE(EXCLUDED.provider_refund_id, refunds.provider_refund_id))`,
      [refundRowId(payment.id, refund), payment.id, refund.amount, payment.currency, refund.status, refund.providerRefundId ?? null],
    );
  }
  // A provider total once above what we could name may be explained later by our own refund settling.
  if (!refunds.some((refund) => refund.key === 'unattributed')) {
    await tx.many('DELETE FROM refunds WHERE id = $1', [derivedId('re', `${payment.id}:unattributed`)]);
  }
}

const touchesRefunds = (facts: PaymentFact[]) => facts.some((fact) => fact.kind.startsWith('refund_') || fact.reportedRefundTotal !== undefined);

async function persistState(tx: Sql, before: Payment, state: PaymentState, source: string): Promise<Payment> {
  // One statement: the derived state, and a history row when the status moved.
  const row = await tx.one<PaymentRow>(
    `WITH updated AS (
        UPDATE payments
           SET status = $2, refunded_amount = $3, captured_amount = $4, authorised_amount = $5, open_dispute = $6,
               review_reason = $7, session_close_outstanding = $8, updated_at = now(),
               next_action = CASE WHEN $9::boolean THEN NULL ELSE next_action END
         WHERE id = $1 RETURNING ${PAYMENT_COLUMNS}
      ), history AS (
        INSERT INTO payment_status_history (payment_id, from_status, to_status, source)
        SELECT id, $10::text, status, $11 FROM updated WHERE status <> $10::text
      )
      SELECT * FROM updated`,
    [
      before.id, state.status, state.refundedAmount, state.capturedAmount, state.authorisedAmount, state.openDispute, state.reviewReason,
      state.sessionCloseOutstanding,
      // A verification link means nothing once the payment no longer waits for verification.
      before.status === 'requires_verification' && state.status !== 'requires_verification',
      before.status, source,
    ],
  );
  return toPayment(row!);
}

const differs = (payment: Payment, state: PaymentState) =>
  payment.status !== state.status ||
  payment.refundedAmount !== state.refundedAmount ||
  payment.reviewReason !== state.reviewReason ||
  payment.capturedAmount !== state.capturedAmount ||
  payment.authorisedAmount !== state.authorisedAmount ||
  payment.openDispute !== state.openDispute ||
  payment.sessionCloseOutstanding !== state.sessionCloseOutstanding;

/**
 * Records `facts` about the payment and brings its persisted state in line with all of its facts. Runs in
 * the caller's transaction; safe to call concurrently and repeatedly with the same facts.
 */
export async function recordFacts(tx: Sql, paymentId: string, facts: PaymentFact[]): Promise<Recorded> {
  const before = await lockPayment(tx, paymentId);
  if (!before) throw notFound('payment');
  return recordFactsOnLocked(tx, before, facts);
}

/** `recordFacts` for a caller that row-locked the payment itself (`before` as read under that lock). */
export async function recordFactsOnLocked(tx: Sql, before: Payment, facts: PaymentFact[]): Promise<Recorded> {
  const { all, freshKeys } = await insertAndReadFacts(tx, before.id, facts);
  const fresh = facts.filter((fact) => freshKeys.delete(fact.key));
  const state = derivePaymentState(all, lifecycleContext(before));
  if (fresh.length === 0 && !differs(before, state)) return { payment: before, before, state, fresh, statusChanged: false };
  if (touchesRefunds(fresh)) await persistRefunds(tx, before, state.refunds);
  const payment = differs(before, state) ? await persistState(tx, before, state, fresh[0]?.key ?? 'derive') : before;
  return { payment, before, state, fresh, statusChanged: payment.status !== before.status };
}

/** A fact of our own (a command, a decision, a result we observed): happened now. */
export function ownFact(kind: FactKind, key: string, details: Omit<PaymentFact, 'kind' | 'key' | 'occurredAt'> = {}): PaymentFact {
  return { kind, key, occurredAt: new Date(), ...details };
}
