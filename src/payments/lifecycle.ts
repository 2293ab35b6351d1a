import type { Money } from '../shared/money';
import type { RiskDecision } from '../risk/types';
import type { PaymentStatus } from './status';

/**
 * The payment lifecycle, in one place: a payment's state is a pure function of the facts recorded about
 * it. Providers deliver their observations at least once and in any order (Stripe retries for days with
 * no ordering promise; Alipay resends a notify for a day), so nothing here depends on the order facts
 * arrived in or on how often one arrived: every rule below reads the *set* of facts. "Never moves
 * backwards" is then a property of this function (money that was seen is never unseen), not a refusal of
 * messages that came late.
 *
 * No I/O: `src/payments/fact-journal.ts` records facts and persists what this returns.
 */

export const FACT_KINDS = [
  // What a provider told us about the payment session (a webhook, or a reconcile look).
  'pending',
  'processing',
  'authorized',
  'paid',
  'failed',
  'canceled',
  // Our own commands and decisions.
  'expired', // we stopped waiting for the payer and canceled the checkout
  'verified', // the payer passed step-up verification
  'verification_failed', // too many failed step-up tries
  'approved', // a person released a held payment
  'rejected', // a person refused a held payment (voided, or refunded in full)
  // Refunds: ours are requested first; every provider word about one is a fact of its own.
  'refund_requested',
  'refund_pending',
  'refund_succeeded',
  'refund_failed', // the provider reports the refund failed (or bounced after succeeding)
  'refund_refused', // our refund call was refused for good: no money moved
  // Disputes (chargebacks).
  'dispute_opened',
  'dispute_won',
  'dispute_lost',
] as const;

export type FactKind = (typeof FACT_KINDS)[number];

export interface PaymentFact {
  kind: FactKind;
  /** Identifies the observation (`stripe:evt_…`, `reconcile:alipay_query:…`, `review:approved`): recorded once. */
  key: string;
  /** paid / authorized: what the provider says was paid. Refund facts: that refund's own amount, when known. */
  money?: Money;
  /** paid / authorized: the provider session the money was paid on. */
  sessionRef?: string;
  /** Our refund id, when the fact names it (our own request, or the provider echoing it back). */
  refundId?: string;
  providerRefundId?: string;
  /** The provider's running total of refunds on the payment (Stripe `amount_refunded`, Alipay `refund_fee`). */
  reportedRefundTotal?: number;
  disputeId?: string;
  /** When the provider says it happened (or when we observed it): orders a payer's attempts only. */
  occurredAt: Date;
  /** When the database recorded it (one clock for every fact): what we knew before we acted. */
  recordedAt?: Date;
}

/** What the payment itself fixes at checkout, before any fact. */
export interface LifecycleContext {
  amount: number;
  currency: string;
  riskDecision: RiskDecision;
  captureMethod: 'automatic' | 'manual';
  /** The session we opened; money paid on another one is not this payment's. */
  providerRef: string | null;
}

export type ReviewReason =
  | 'dispute_opened'
  | 'amount_mismatch'
  | 'paid_after_cancel'
  | 'paid_while_blocked'
  | 'risk_review'
  | 'awaiting_capture'
  | 'refund_bounced'
  | 'foreign_session_paid';

export type DerivedRefundStatus = 'pending' | 'succeeded' | 'failed';

export interface DerivedRefund {
  /** `refund:<our id>`, `provider:<provider refund id>`, or `unattributed` (a provider total with no refund named). */
  key: string;
  refundId?: string;
  providerRefundId?: string;
  amount: number;
  status: DerivedRefundStatus;
  /** Succeeded, then failed: the money came back to us; a person should look. */
  bounced: boolean;
}

export interface PaymentState {
  status: PaymentStatus;
  /** Money taken from the payer (the whole amount once paid; a refund or dispute implies it was). */
  capturedAmount: number;
  /** Money held at the provider, neither captured nor voided (manual capture). */
  authorisedAmount: number;
  refundedAmount: number;
  /** What may still be refunded: captured, less every refund that succeeded or is in flight. */
  refundableAmount: number;
  openDispute: boolean;
  reviewReason: ReviewReason | null;
  /** Refunds that are ours, or named by the provider, in key order. */
  refunds: DerivedRefund[];
  /** Who decided about a held payment, if anyone did. */
  decision: 'approved' | 'rejected' | null;
  /** We canceled the checkout, but the provider never confirmed its session closed: ask again. */
  sessionCloseOutstanding: boolean;
}

/** The same set of facts, whatever the order and however often each came. */
function distinct(facts: readonly PaymentFact[]): PaymentFact[] {
  const byKey = new Map<string, PaymentFact>();
  for (const fact of facts) if (!byKey.has(fact.key)) byKey.set(fact.key, fact);
  return [...byKey.values()];
}

const sameMoney = (money: Money | undefined, context: LifecycleContext) =>
  !money || (money.amount === context.amount && money.currency === context.currency);

/** Money on a session other than ours: a person must look at it; it is not this payment's money. */
const onForeignSession = (fact: PaymentFact, context: LifecycleContext) =>
  Boolean(fact.sessionRef && context.providerRef && fact.sessionRef !== context.providerRef);

// A refund's status is the highest word said about it: a late `pending` never undoes a settlement, and a
// provider's `failed` after `succeeded` is a bounce. Our own refused call is below any provider word on money.
const REFUND_RANK: Partial<Record<FactKind, number>> = {
  refund_requested: 0,
  refund_pending: 1,
  refund_refused: 2,
  refund_succeeded: 3,
  refund_failed: 4,
};
const REFUND_STATUS: Record<number, DerivedRefundStatus> = { 0: 'pending', 1: 'pending', 2: 'failed', 3: 'succeeded', 4: 'failed' };

interface RefundFacts {
  key: string;
  refundId?: string;
  providerRefundId?: string;
  facts: PaymentFact[];
}

type RefundKeyOf = (fact: PaymentFact) => string | undefined;

/** A refund's key: our id first, else the provider's id, linked wherever one fact names both. */
function refundKeys(facts: readonly PaymentFact[]): RefundKeyOf {
  const ourIdFor = new Map<string, string>();
  for (const fact of facts) if (fact.refundId && fact.providerRefundId) ourIdFor.set(fact.providerRefundId, fact.refundId);
  return (fact) => {
    const refundId = fact.refundId ?? (fact.providerRefundId ? ourIdFor.get(fact.providerRefundId) : undefined);
    return refundId ? `refund:${refundId}` : fact.providerRefundId ? `provider:${fact.providerRefundId}` : undefined;
  };
}

function groupRefunds(facts: readonly PaymentFact[], keyOf: RefundKeyOf): RefundFacts[] {
  const groups = new Map<string, RefundFacts>();
  for (const fact of facts) {
    const key = REFUND_RANK[fact.kind] === undefined ? undefined : keyOf(fact);
    if (!key) continue; // names no refund: only its reported total counts
    const group = groups.get(key) ?? { key, refundId: key.startsWith('refund:') ? key.slice('refund:'.length) : undefined, facts: [] };
    // The smallest of the provider ids named, so the choice never depends on which fact came first.
    if (fact.providerRefundId && (!group.providerRefundId || fact.providerRefundId < group.providerRefundId)) group.providerRefundId = fact.providerRefundId;
    group.facts.push(fact);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** Our requested amount when the refund is ours, else the largest amount the provider named. */
function refundAmount(group: RefundFacts): number {
  const requested = group.facts.find((fact) => fact.kind === 'refund_requested');
  if (requested?.money) return requested.money.amount;
  return Math.max(0, ...group.facts.map((fact) => fact.money?.amount ?? 0));
}

interface NamedRefund {
  refund: DerivedRefund;
  /** Our request for it, if it is ours: a provider total from before then cannot include it. */
  request?: PaymentFact;
}

function deriveRefund(group: RefundFacts): NamedRefund | undefined {
  const amount = refundAmount(group);
  if (amount <= 0) return undefined; // a refund of unknown size: the provider's total accounts for it
  const ranks = group.facts.map((fact) => REFUND_RANK[fact.kind]!);
  const kinds = new Set(group.facts.map((fact) => fact.kind));
  const refund: DerivedRefund = {
    key: group.key,
    refundId: group.refundId,
    providerRefundId: group.providerRefundId,
    amount,
    status: REFUND_STATUS[Math.max(...ranks)],
    bounced: kinds.has('refund_succeeded') && kinds.has('refund_failed'),
  };
  return { refund, request: group.facts.find((fact) => fact.kind === 'refund_requested') };
}

interface RefundSummary {
  refunds: DerivedRefund[];
  /** Money gone back: the most that our settled refunds, or any one provider total with the refunds it cannot include, prove. */
  refunded: number;
  /** Money gone back or promised: refunded, plus refunds still in flight. */
  committed: number;
  bounced: boolean;
}

/** Providers write their times to the second (Alipay), ours carry milliseconds: a total of the same second may include our refund. */
const PROVIDER_CLOCK_GRACE_MS = 1_000;

const sumOf = (refunds: DerivedRefund[]) => refunds.reduce((total, refund) => total + refund.amount, 0);
const counts = (refund: DerivedRefund) => refund.status !== 'failed' || refund.bounced;
/** Money left us: it succeeded (a bounce later does not take that back: totals only grow). */
const movedMoney = (refund: DerivedRefund) => refund.status === 'succeeded' || refund.bounced;

type ReportedTotal = PaymentFact & { reportedRefundTotal: number };

const reportedTotals = (facts: readonly PaymentFact[]): ReportedTotal[] =>
  facts.filter((fact): fact is ReportedTotal => fact.reportedRefundTotal !== undefined);

/**
 * Whether a provider total can include our refund: not when we had the total before we even asked (one
 * clock, the database's), nor when the provider dates it before our request; yes when its fact names it.
 * A refund the provider alone names is taken as included: the newest total includes it, and so never
 * undercounts. Which refunds a total includes is told by time, never by arrival.
 */
function mayInclude(total: PaymentFact, named: NamedRefund, keyOf: RefundKeyOf): boolean {
  const { refund, request } = named;
  if (!counts(refund)) return false;
  if (!request || refund.key === keyOf(total)) return true;
  if (total.recordedAt && request.recordedAt && total.recordedAt < request.recordedAt) return false;
  return request.occurredAt.getTime() <= total.occurredAt.getTime() + PROVIDER_CLOCK_GRACE_MS;
}

/**
 * A provider's running total (Stripe `amount_refunded`, Alipay `refund_fee`) above the refunds it may
 * include is a refund made elsewhere (the provider's dashboard), listed as `unattributed`. A refund of ours
 * still in flight is among those it may include, so the list does not name that money twice; one asked
 * for after the total's time is not, so the total does not swallow it.
 */
function unattributedAmount(totals: readonly ReportedTotal[], named: NamedRefund[], keyOf: RefundKeyOf): number {
  let unattributed = 0;
  for (const total of totals) {
    const included = named.filter((candidate) => mayInclude(total, candidate, keyOf)).map(({ refund }) => refund);
    unattributed = Math.max(unattributed, total.reportedRefundTotal - sumOf(included));
  }
  return unattributed;
}

/**
 * The money gone back, as a lower bound that every further fact only raises: our refunds that moved money,
 * or one provider total (all it had refunded as of its time) plus those of ours that moved money but that it
 * cannot include. The `unattributed` split cannot serve here: it takes a refund in flight as part of a total
 * yet counts no money for it, so learning of one asked for before a total would unsee that total's money.
 */
function refundedAmount(totals: readonly ReportedTotal[], named: NamedRefund[], keyOf: RefundKeyOf): number {
  const amountOf = (refunds: NamedRefund[]) => sumOf(refunds.map(({ refund }) => refund));
  const settled = named.filter(({ refund }) => movedMoney(refund));
  const provenBy = (total: ReportedTotal) => total.reportedRefundTotal + amountOf(settled.filter((candidate) => !mayInclude(total, candidate, keyOf)));
  return Math.max(amountOf(settled), ...totals.map(provenBy));
}

function summariseRefunds(facts: readonly PaymentFact[]): RefundSummary {
  const keyOf = refundKeys(facts);
  const named = groupRefunds(facts, keyOf)
    .map(deriveRefund)
    .filter((refund): refund is NamedRefund => refund !== undefined)
    .sort((a, b) => (a.refund.key < b.refund.key ? -1 : 1));
  const refunds = named.map(({ refund }) => refund);
  const totals = reportedTotals(facts);
  const gone = sumOf(refunds.filter(movedMoney));
  const inFlight = sumOf(refunds.filter((refund) => refund.status === 'pending'));
  const unattributed = unattributedAmount(totals, named, keyOf);
  const refunded = refundedAmount(totals, named, keyOf);
  return {
    refunds: unattributed > 0 ? [...refunds, { key: 'unattributed', amount: unattributed, status: 'succeeded', bounced: false }] : refunds,
    refunded,
    committed: Math.max(gone + inFlight + unattributed, refunded),
    bounced: refunds.some((refund) => refund.bounced),
  };
}

interface DisputeSummary {
  open: boolean;
  lost: boolean;
  any: boolean;
}

/** A dispute closed by any fact is closed, whichever fact came first. */
function summariseDisputes(facts: readonly PaymentFact[]): DisputeSummary {
  const opened = new Set<string>();
  const closed = new Set<string>();
  let lost = false;
  for (const fact of facts) {
    const id = fact.disputeId ?? 'dispute';
    if (fact.kind === 'dispute_opened') opened.add(id);
    if (fact.kind === 'dispute_won' || fact.kind === 'dispute_lost') closed.add(id);
    if (fact.kind === 'dispute_lost') lost = true;
  }
  return { open: [...opened].some((id) => !closed.has(id)), lost, any: opened.size + closed.size > 0 };
}

/** A refusal outranks an approval: if both were ever recorded, the money goes back. */
function decisionOf(kinds: ReadonlySet<FactKind>): PaymentState['decision'] {
  if (kinds.has('rejected')) return 'rejected';
  return kinds.has('approved') ? 'approved' : null;
}

/**
 * The payer's latest attempt, for a payment with no money yet: a decline can be followed by an attempt in
 * flight and the other way round, so the provider's own time decides; in the same instant, the decline.
 */
function latestAttempt(facts: readonly PaymentFact[]): 'processing' | 'failed' | undefined {
  const attempts = facts.filter((fact) => fact.kind === 'processing' || fact.kind === 'failed');
  if (attempts.length === 0) return undefined;
  const last = Math.max(...attempts.map((fact) => fact.occurredAt.getTime()));
  return attempts.some((fact) => fact.kind === 'failed' && fact.occurredAt.getTime() === last) ? 'failed' : 'processing';
}

interface Observed {
  facts: PaymentFact[];
  kinds: Set<FactKind>;
  captured: boolean;
  authorised: boolean;
  mismatch: boolean;
  foreignPaid: boolean;
  refunds: RefundSummary;
  disputes: DisputeSummary;
  decision: PaymentState['decision'];
}

function observe(all: readonly PaymentFact[], context: LifecycleContext): Observed {
  const facts = distinct(all);
  const kinds = new Set(facts.map((fact) => fact.kind));
  const money = facts.filter((fact) => (fact.kind === 'paid' || fact.kind === 'authorized') && !onForeignSession(fact, context));
  const refunds = summariseRefunds(facts);
  const disputes = summariseDisputes(facts);
  // A refund or a dispute is proof the money was taken, even when the success itself has not arrived yet.
  const captured = money.some((fact) => fact.kind === 'paid') || refunds.refunded > 0 || disputes.any;
  return {
    facts,
    kinds,
    captured,
    authorised: !captured && money.some((fact) => fact.kind === 'authorized'),
    mismatch: money.some((fact) => !sameMoney(fact.money, context)),
    foreignPaid: facts.some((fact) => (fact.kind === 'paid' || fact.kind === 'authorized') && onForeignSession(fact, context)),
    refunds,
    disputes,
    decision: decisionOf(kinds),
  };
}

/** Money we did not expect: the wrong amount, or paid on a checkout we had canceled or refused. */
function unexpectedMoneyReason(seen: Observed, context: LifecycleContext): ReviewReason | undefined {
  if (seen.mismatch) return 'amount_mismatch';
  if (seen.kinds.has('expired')) return 'paid_after_cancel';
  if (context.riskDecision === 'block' || seen.kinds.has('verification_failed')) return 'paid_while_blocked';
  return undefined;
}

/** Why money taken from the payer waits for a person, or undefined when nobody needs to look. */
function captureHoldReason(seen: Observed, context: LifecycleContext): ReviewReason | undefined {
  if (seen.decision) return undefined;
  const reason =
    unexpectedMoneyReason(seen, context) ??
    // A manual-capture payment captured at the provider (its dashboard) was released by a person there.
    (context.riskDecision === 'review' && context.captureMethod === 'automatic' ? 'risk_review' : undefined);
  // A refund of held money during a dispute would pay it back twice: the reviewer must see the dispute.
  return reason && seen.disputes.open ? 'dispute_opened' : reason;
}

/** Why an authorisation (manual capture) waits: only a person, or the provider's dashboard, captures it. */
function authorisationHoldReason(seen: Observed, context: LifecycleContext): ReviewReason {
  return unexpectedMoneyReason(seen, context) ?? (context.riskDecision === 'review' ? 'risk_review' : 'awaiting_capture');
}

function capturedStatus(seen: Observed, context: LifecycleContext, hold: ReviewReason | undefined): PaymentStatus {
  if (seen.disputes.lost || (seen.disputes.open && !hold)) return 'disputed';
  if (seen.refunds.refunded >= context.amount) return 'refunded';
  // Held money, or a refused payment whose refund is still on its way back.
  if (hold || seen.decision === 'rejected') return 'held_for_review';
  return seen.refunds.refunded > 0 ? 'partially_refunded' : 'succeeded';
}

/** Voided at the provider (a person's rejection, or the authorisation expired), else still held. */
const authorisedStatus = (seen: Observed): PaymentStatus =>
  seen.decision === 'rejected' || seen.kinds.has('canceled') ? 'canceled' : 'held_for_review';

function unpaidStatus(seen: Observed, context: LifecycleContext): PaymentStatus {
  if (context.riskDecision === 'block' || seen.kinds.has('verification_failed')) return 'blocked';
  if (seen.kinds.has('expired') || seen.kinds.has('canceled') || seen.decision === 'rejected') return 'canceled';
  const attempt = latestAttempt(seen.facts);
  if (attempt) return attempt;
  return context.riskDecision === 'challenge' && !seen.kinds.has('verified') ? 'requires_verification' : 'requires_payment';
}

/** A flag a person should see even when nothing is held: the money is right, but something odd happened. */
function flagOf(seen: Observed): ReviewReason | null {
  if (seen.refunds.bounced) return 'refund_bounced';
  return seen.foreignPaid ? 'foreign_session_paid' : null;
}

function statusAndHold(seen: Observed, context: LifecycleContext): { status: PaymentStatus; hold?: ReviewReason } {
  if (seen.captured) {
    const hold = captureHoldReason(seen, context);
    return { status: capturedStatus(seen, context, hold), hold };
  }
  if (seen.authorised) {
    const status = authorisedStatus(seen);
    return { status, hold: status === 'held_for_review' ? authorisationHoldReason(seen, context) : undefined };
  }
  return { status: unpaidStatus(seen, context) };
}

/** The state of a payment with these facts: the same for every order and duplication of them. */
export function derivePaymentState(facts: readonly PaymentFact[], context: LifecycleContext): PaymentState {
  const seen = observe(facts, context);
  const { status, hold } = statusAndHold(seen, context);
  const capturedAmount = seen.captured ? context.amount : 0;
  return {
    status,
    capturedAmount,
    // A voided authorisation holds nothing any more.
    authorisedAmount: seen.authorised && status === 'held_for_review' ? context.amount : 0,
    refundedAmount: Math.min(seen.refunds.refunded, capturedAmount),
    refundableAmount: Math.max(0, capturedAmount - seen.refunds.committed),
    openDispute: seen.disputes.open,
    reviewReason: (status === 'held_for_review' ? hold : undefined) ?? flagOf(seen),
    refunds: seen.refunds.refunds,
    decision: seen.decision,
    sessionCloseOutstanding: Boolean(context.providerRef) && seen.kinds.has('expired') && !seen.kinds.has('canceled') && !seen.captured && !seen.authorised,
  };
}
