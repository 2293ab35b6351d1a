import type { Sql } from '../db/database';
import { paymentFacts } from '../payments/fact-journal';
import { Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from '../payments/payment';
import type { PaymentStatus } from '../payments/status';
import { orderDetailView, paymentView } from '../payments/views';
import type { PersonalDataVault } from '../privacy/vault';
import { explain, latestDecision } from '../risk/journal';
import type { RuleHit } from '../risk/rules';
import { notFound } from '../shared/errors';
import { maskedIdentity, maskedPersonalData, Pseudonyms } from './masking';

/** What staff can search payments by; every field optional, all of them combined with AND. */
export interface PaymentSearch {
  id?: string;
  providerRef?: string;
  status?: PaymentStatus;
  provider?: string;
  reviewReason?: string;
  sku?: string;
  amountMin?: number;
  amountMax?: number;
  createdFrom?: Date;
  createdTo?: Date;
  limit: number;
  /** Newest first: the page after this payment id. */
  startingAfter?: string;
}

export interface StaffReadDeps {
  db: Sql;
  vault: PersonalDataVault;
  pseudonyms: Pseudonyms;
}

type SearchRow = PaymentRow & { rule_hits: RuleHit[] | null; history: { status: PaymentStatus; at: string }[] };

/** A payment row as staff see it in lists: the public view, why it is held, masked identity, rule hits, history. */
function listItem(pseudonyms: Pseudonyms, row: SearchRow) {
  const payment = toPayment(row);
  return {
    ...paymentView(payment),
    review_reason: payment.reviewReason,
    personal_data: maskedIdentity(pseudonyms, payment),
    rule_hits: row.rule_hits ?? [],
    history: row.history,
  };
}

export type StaffPaymentItem = ReturnType<typeof listItem>;

const SEARCH_SELECT = `SELECT ${PAYMENT_COLUMNS.split(',').map((column) => `p.${column.trim()}`).join(', ')},
    (SELECT d.rule_hits FROM risk_decisions d WHERE d.payment_id = p.id ORDER BY d.id DESC LIMIT 1) AS rule_hits,
    (SELECT COALESCE(json_agg(json_build_object('status', h.to_status, 'at', h.at) ORDER BY h.id), '[]')
       FROM payment_status_history h WHERE h.payment_id = p.id) AS history
  FROM payments p`;

export async function searchPayments(deps: StaffReadDeps, search: PaymentSearch): Promise<{ data: StaffPaymentItem[]; hasMore: boolean }> {
  const rows = await deps.db.many<SearchRow>(
    `${SEARCH_SELECT}
      WHERE ($1::text IS NULL OR p.id = $1) AND ($2::text IS NULL OR p.provider_ref = $2) AND ($3::text IS NULL OR p.status = $3)
        AND ($4::text IS NULL OR p.provider = $4) AND ($5::text IS NULL OR p.review_reason = $5) AND ($6::text IS NULL OR p.sku = $6)
        AND ($7::bigint IS NULL OR p.amount >= $7) AND ($8::bigint IS NULL OR p.amount <= $8)
        AND ($9::timestamptz IS NULL OR p.created_at >= $9) AND ($10::timestamptz IS NULL OR p.created_at < $10)
        AND ($11::text IS NULL OR (p.created_at, p.id) < (SELECT created_at, id FROM payments WHERE id = $11))
      ORDER BY p.created_at DESC, p.id DESC LIMIT $12`,
    [
      search.id ?? null, search.providerRef ?? null, search.status ?? null, search.provider ?? null, search.reviewReason ?? null,
      search.sku ?? null, search.amountMin ?? null, search.amountMax ?? null, search.createdFrom ?? null, search.createdTo ?? null,
      search.startingAfter ?? null, search.limit + 1,
    ],
  );
  return { data: rows.slice(0, search.limit).map((row) => listItem(deps.pseudonyms, row)), hasMore: rows.length > search.limit };
}

async function userRecentPayments(deps: StaffReadDeps, payment: Payment, limit = 5): Promise<StaffPaymentItem[]> {
  const rows = await deps.db.many<SearchRow>(`${SEARCH_SELECT} WHERE p.user_hash = $1 AND p.id <> $2 ORDER BY p.created_at DESC, p.id DESC LIMIT $3`, [
    payment.userHash, payment.id, limit,
  ]);
  return rows.map((row) => listItem(deps.pseudonyms, row));
}

async function riskView(db: Sql, paymentId: string) {
  const decision = await latestDecision(db, paymentId);
  if (!decision) return null;
  return {
    decision: decision.decision,
    score: decision.score,
    stage: decision.stage,
    ruleset_version: decision.rulesetVersion,
    fail_mode: decision.failMode,
    rule_hits: decision.hits,
    explanation: explain(decision),
    decided_at: decision.createdAt.toISOString(),
  };
}

async function loadPayment(db: Sql, id: string): Promise<Payment> {
  const row = await db.one<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1`, [id]);
  if (!row) throw notFound('payment');
  return toPayment(row);
}

/** Everything a reviewer needs about one payment: history, facts, refunds, the decision and why, masked data. */
export async function paymentDetail(deps: StaffReadDeps, id: string) {
  const payment = await loadPayment(deps.db, id);
  const [order, facts, risk, personal, recent] = await Promise.all([
    orderDetailView(deps.db, payment),
    paymentFacts(deps.db, payment.id),
    riskView(deps.db, payment.id),
    maskedPersonalData(deps.db, deps.vault, deps.pseudonyms, payment.id),
    userRecentPayments(deps, payment),
  ]);
  return {
    ...order,
    review_reason: payment.reviewReason,
    captured_amount: payment.capturedAmount,
    refundable_amount: Math.max(0, payment.capturedAmount - payment.refundedAmount),
    facts: facts.map((fact) => ({
      kind: fact.kind,
      key: fact.key,
      amount: fact.money?.amount ?? null,
      currency: fact.money?.currency ?? null,
      occurred_at: fact.occurredAt.toISOString(),
    })),
    risk,
    personal_data: personal,
    user_recent_payments: recent,
  };
}

export type StaffPaymentDetail = Awaited<ReturnType<typeof paymentDetail>>;

/**
 * Held payments, the one waiting longest first (by when it was held), each with why, the decision
 * explanation and the same user's recent payments (masked), so a reviewer decides from one screen.
 */
export async function reviewQueue(deps: StaffReadDeps, limit: number) {
  const rows = await deps.db.many<SearchRow & { held_at: Date }>(
    `SELECT * FROM (${SEARCH_SELECT.replace(
      'FROM payments p',
      `, (SELECT max(h.at) FROM payment_status_history h WHERE h.payment_id = p.id AND h.to_status = 'held_for_review') AS held_at
        FROM payments p WHERE p.status = 'held_for_review'`,
    )}) q ORDER BY held_at ASC NULLS FIRST, id LIMIT $1`,
    [limit],
  );
  return Promise.all(
    rows.map(async (row) => {
      const payment = toPayment(row);
      const decision = await latestDecision(deps.db, payment.id);
      return {
        ...listItem(deps.pseudonyms, row),
        held_at: row.held_at?.toISOString() ?? null,
        explanation: decision ? explain(decision) : null,
        user_recent_payments: await userRecentPayments(deps, payment),
      };
    }),
  );
}
