import { Params, Sql } from '../db/database';
import { notFound } from '../shared/errors';
import { derivedId } from '../shared/ids';
import { derivePaymentState, DerivedRefund, FactKind, LifecycleContext, PaymentFact, PaymentState } from './lifecycle';
import { lockPayment, Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';

/**
 * The only way a payment's state changes: record facts (once each, by key), derive the state from all of
 * the payment's facts, and persist it (status, totals, a history row, the refunds list) with them, all or
 * nothing. Either in a transaction under the payment's row lock (recordFacts), or, for one fact that
 * touches no refund, in one statement that writes only if nothing reached the payment since its facts were
 * read (recordFactIfUnchanged). Every write moves the payment's `facts_version`. Every path locks the
 * payment row first and only then touches its refunds, so no two paths can deadlock on each other.
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

/** A fact as pg returns its row (int8 as strings, times as Dates), or as json_agg returns it (numbers, ISO strings). */
export interface FactRow {
  fact_key: string;
  kind: FactKind;
  amount: string | number | null;
  currency: string | null;
  session_ref: string | null;
  refund_id: string | null;
  provider_refund_id: string | null;
  reported_refund_total: string | number | null;
  dispute_id: string | null;
  occurred_at: Date | string;
  recorded_at: Date | string;
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
    occurredAt: new Date(row.occurred_at),
    recordedAt: new Date(row.recorded_at),
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
/** FACT_COLUMNS with their types, to read facts passed as JSON (json_to_recordset). */
const FACT_RECORD = `fact_key text, kind text, amount bigint, currency text, session_ref text, refund_id text, provider_refund_id text,
  reported_refund_total bigint, dispute_id text, occurred_at timestamptz`;

/** A fact as a FACT_RECORD. */
const factRecord = (fact: PaymentFact) => ({
  fact_key: fact.key, kind: fact.kind, amount: fact.money?.amount ?? null, currency: fact.money?.currency ?? null,
  session_ref: fact.sessionRef ?? null, refund_id: fact.refundId ?? null, provider_refund_id: fact.providerRefundId ?? null,
  reported_refund_total: fact.reportedRefundTotal ?? null, dispute_id: fact.disputeId ?? null, occurred_at: fact.occurredAt.toISOString(),
});

/**
 * Inserts the facts not recorded yet and reads all of the payment's facts back, in one statement. Run under
 * the payment's row lock: the statement's snapshot is then taken after the lock, so it sees every fact
 * committed before; the facts it inserts itself come from its RETURNING (a snapshot never shows those).
 */
async function insertAndReadFacts(tx: Sql, paymentId: string, facts: PaymentFact[]): Promise<{ all: PaymentFact[]; freshKeys: Set<string> }> {
  const read = await tx.many<FactRow & { fresh: boolean }>(
    `WITH fresh AS (
        INSERT INTO payment_facts (payment_id, ${FACT_COLUMNS})
        SELECT $1, f.* FROM json_to_recordset($2::json) AS f(${FACT_RECORD})
        ON CONFLICT (payment_id, fact_key) DO NOTHING
        RETURNING id, ${FACT_COLUMNS}, recorded_at
      )
      SELECT id, ${FACT_COLUMNS}, recorded_at, false AS fresh FROM payment_facts WHERE payment_id = $1
      UNION ALL SELECT *, true FROM fresh
      ORDER BY id`,
    [paymentId, JSON.stringify(facts.map(factRecord))],
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

/** Facts whose refunds list must be persisted too: several statements, so only under the row lock. */
export const touchesRefunds = (facts: PaymentFact[]) => facts.some((fact) => fact.kind.startsWith('refund_') || fact.reportedRefundTotal !== undefined);

/** The derived state as the SET list of `payments`: the one list every writer of a payment's state uses. */
function stateAssignments(p: Params, before: Payment, state: PaymentState): string {
  // A verification link means nothing once the payment no longer waits for verification.
  const clearLink = before.status === 'requires_verification' && state.status !== 'requires_verification';
  return `status = ${p.add(state.status)}, refunded_amount = ${p.add(state.refundedAmount)}, captured_amount = ${p.add(state.capturedAmount)},
    authorised_amount = ${p.add(state.authorisedAmount)}, open_dispute = ${p.add(state.openDispute)}, review_reason = ${p.add(state.reviewReason)},
    session_close_outstanding = ${p.add(state.sessionCloseOutstanding)},
    next_action = CASE WHEN ${p.add(clearLink, '::boolean')} THEN NULL ELSE next_action END,
    updated_at = CASE WHEN ${p.add(differs(before, state), '::boolean')} THEN now() ELSE updated_at END,
    facts_version = facts_version + 1`;
}

/**
 * One statement that persists a derived state: CTE `updated` (the payment row, its version moved on) and a
 * history row when the status moved. `guard` narrows the UPDATE; `chained` CTEs (reading `updated`) write
 * only when it did.
 */
function stateWrite(p: Params, before: Payment, state: PaymentState, source: string, guard = '', chained: string[] = []): string {
  const from = p.add(before.status, '::text');
  return `WITH updated AS (
        UPDATE payments SET ${stateAssignments(p, before, state)}
         WHERE id = ${p.add(before.id)}${guard} RETURNING ${PAYMENT_COLUMNS}
      ), history AS (
        INSERT INTO payment_status_history (payment_id, from_status, to_status, source)
        SELECT id, ${from}, status, ${p.add(source)} FROM updated WHERE status <> ${from}
      )${chained.map((cte) => `, ${cte}`).join('')}
      SELECT * FROM updated`;
}

async function persistState(tx: Sql, before: Payment, state: PaymentState, source: string): Promise<Payment> {
  const p = new Params();
  const row = await tx.one<PaymentRow>(stateWrite(p, before, state, source), p.values);
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
  // Written even when the state stays: a fresh fact moves the version, which optimistic writers check.
  const payment = await persistState(tx, before, state, fresh[0]?.key ?? 'derive');
  return { payment, before, state, fresh, statusChanged: payment.status !== before.status };
}

/** A payment and all of its facts as one statement read them, without a lock: what an optimistic write derives from. */
export interface FactsRead {
  payment: Payment;
  facts: PaymentFact[];
}

/** SQL for the facts of the payment `<alias>.id`, oldest first, as one JSON array (null when none): decode with `factsFromJson`. */
export const factsJsonOf = (alias: string) => `(SELECT json_agg(f ORDER BY f.id) FROM payment_facts f WHERE f.payment_id = ${alias}.id)`;

export const factsFromJson = (rows: FactRow[] | null): PaymentFact[] => (rows ?? []).map(toFact);

/**
 * Records `fact`, which `read` does not hold, with `state` (derived from read's facts and it), in one
 * autocommit statement: no transaction, no lock held across round trips. It writes only if the payment is
 * still as read, and this is what serialises concurrent writers: every writer of a payment's facts or
 * state moves `facts_version` in the statement that writes, under the payment's row lock, and this UPDATE
 * takes that lock too. Under READ COMMITTED an UPDATE that waited for the lock re-checks its WHERE on the
 * row as the other writer committed it, so a matching version means no fact landed since the read, and
 * none can until this statement commits. The session ref is checked as well: the lifecycle reads it, and
 * checkout stores it without recording a fact.
 *
 * `fact.recordedAt` is stored as given, so the state derived from it is the state its row stands for.
 * `chained` CTEs (reading `updated`) write in the same statement, all or nothing. Undefined, having
 * written nothing, when the payment changed meanwhile: read again.
 */
export async function recordFactIfUnchanged(
  sql: Sql,
  read: FactsRead,
  fact: PaymentFact & { recordedAt: Date },
  state: PaymentState,
  chained: (p: Params) => string[] = () => [],
): Promise<Payment | undefined> {
  const { payment } = read;
  const p = new Params();
  const guard = ` AND facts_version = ${p.add(payment.factsVersion)} AND provider_ref IS NOT DISTINCT FROM ${p.add(payment.providerRef, '::text')}`;
  const record = JSON.stringify({ ...factRecord(fact), recorded_at: fact.recordedAt.toISOString() });
  const insertFact = `fact AS (
        INSERT INTO payment_facts (payment_id, ${FACT_COLUMNS}, recorded_at)
        SELECT updated.id, f.* FROM updated, json_to_record(${p.add(record, '::json')}) AS f(${FACT_RECORD}, recorded_at timestamptz)
      )`;
  const text = stateWrite(p, payment, state, fact.key, guard, [insertFact, ...chained(p)]);
  const row = await sql.one<PaymentRow>(text, p.values);
  return row && toPayment(row);
}

/** A fact of our own (a command, a decision, a result we observed): happened now. */
export function ownFact(kind: FactKind, key: string, details: Omit<PaymentFact, 'kind' | 'key' | 'occurredAt'> = {}): PaymentFact {
  return { kind, key, occurredAt: new Date(), ...details };
}
