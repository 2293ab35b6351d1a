import type { Sql } from '../db/database';
import type { NextAction, ProviderName } from '../providers/types';
import type { RiskDecision } from '../risk/types';
import type { ReviewReason } from './lifecycle';
import type { PaymentStatus } from './status';

/** A payment as the domain sees it. Personal fields stay ciphertext here; only the views decrypt what they show. */
export interface Payment {
  id: string;
  userHash: string;
  deviceHash: string;
  sku: string;
  itemName: string;
  quantity: number;
  amount: number;
  currency: string;
  provider: ProviderName;
  providerRef: string | null;
  captureMethod: 'automatic' | 'manual';
  status: PaymentStatus;
  riskDecision: RiskDecision;
  riskScore: number;
  refundedAmount: number;
  /** Derived from the payment's facts (src/payments/lifecycle.ts), like status and refundedAmount. */
  capturedAmount: number;
  authorisedAmount: number;
  openDispute: boolean;
  sessionCloseOutstanding: boolean;
  nextAction: NextAction | null;
  reviewReason: ReviewReason | null;
  /** Moves with every write of the payment's facts or derived state: what an optimistic writer checks (src/payments/fact-journal.ts). */
  factsVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface PaymentRow {
  id: string;
  user_hash: string;
  device_hash: string;
  sku: string;
  item_name: string;
  quantity: number;
  amount: string;
  currency: string;
  provider: ProviderName;
  provider_ref: string | null;
  capture_method: 'automatic' | 'manual';
  status: PaymentStatus;
  risk_decision: RiskDecision;
  risk_score: number;
  refunded_amount: string;
  captured_amount: string;
  authorised_amount: string;
  open_dispute: boolean;
  session_close_outstanding: boolean;
  next_action: NextAction | null;
  review_reason: ReviewReason | null;
  facts_version: string;
  created_at: Date;
  updated_at: Date;
}

/** Columns every domain read needs; the encrypted columns are read only where they are shown or exported. */
export const PAYMENT_COLUMNS = `id, user_hash, device_hash, sku, item_name, quantity, amount, currency, provider, provider_ref,
  capture_method, status, risk_decision, risk_score, refunded_amount, captured_amount, authorised_amount, open_dispute,
  session_close_outstanding, next_action, review_reason, facts_version, created_at, updated_at`;

/** pg returns int8 as strings; amounts are capped far below 2^53, so Number() is exact. */
export function toPayment(row: PaymentRow): Payment {
  return {
    id: row.id,
    userHash: row.user_hash,
    deviceHash: row.device_hash,
    sku: row.sku,
    itemName: row.item_name,
    quantity: row.quantity,
    amount: Number(row.amount),
    currency: row.currency,
    provider: row.provider,
    providerRef: row.provider_ref,
    captureMethod: row.capture_method,
    status: row.status,
    riskDecision: row.risk_decision,
    riskScore: row.risk_score,
    refundedAmount: Number(row.refunded_amount),
    capturedAmount: Number(row.captured_amount),
    authorisedAmount: Number(row.authorised_amount),
    openDispute: row.open_dispute,
    sessionCloseOutstanding: row.session_close_outstanding,
    nextAction: row.next_action,
    reviewReason: row.review_reason,
    factsVersion: Number(row.facts_version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findPayment(sql: Sql, id: string): Promise<Payment | undefined> {
  const row = await sql.one<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1`, [id]);
  return row && toPayment(row);
}

/** Row-locks the payment for the rest of the transaction: recording a fact starts here. */
export async function lockPayment(tx: Sql, id: string): Promise<Payment | undefined> {
  const row = await tx.one<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 FOR UPDATE`, [id]);
  return row && toPayment(row);
}

export async function findPaymentByProviderRef(sql: Sql, provider: string, providerRef: string): Promise<Payment | undefined> {
  const row = await sql.one<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE provider = $1 AND provider_ref = $2`, [
    provider,
    providerRef,
  ]);
  return row && toPayment(row);
}

/** Another user's payment looks exactly like a missing one. */
export async function findUserPayment(sql: Sql, userHash: string, id: string): Promise<Payment | undefined> {
  const row = await sql.one<PaymentRow>(`SELECT ${PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND user_hash = $2`, [id, userHash]);
  return row && toPayment(row);
}
