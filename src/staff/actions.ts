import { createHash, randomUUID } from 'node:crypto';
import type { Database } from '../db/database';
import { canonicalJson, idempotencyKeyInUse, idempotencyKeyReused, StoredResponse } from '../payments/idempotency';
import type { Payment } from '../payments/payment';
import type { RefundRecord, RefundService } from '../payments/refunds';
import { paymentView } from '../payments/views';
import { approveHeldPayment, rejectHeldPayment, ReviewDeps } from '../risk/review';
import { ApiError, notFound } from '../shared/errors';
import type { StaffMember } from './auth';

/**
 * What staff do to a payment. The money logic is the domain's (src/risk/review.ts, src/payments/refunds.ts:
 * facts under the payment's row lock); this adds what people acting at once need: a claim so a second staff
 * member gets a clear 409 while the first one's action is still running (the provider call of an approval
 * runs outside any transaction), and Idempotency-Keys so a double click or a retry does not act twice.
 */

export type StaffAction = 'approve' | 'reject' | 'refund';

const CLAIM_SECONDS = 60;

const actionPending = (action: string) =>
  new ApiError(409, 'conflict', 'action_pending', `Another staff member's ${action} of this payment is in progress; reload the payment and try again.`);

/**
 * Claims the payment for one action. The primary key makes two claims from any number of instances exclusive;
 * a claim left by a crashed instance expires. A claim released between our insert and our look at it is
 * simply tried again.
 */
async function claimPayment(db: Database, paymentId: string, staff: StaffMember, action: StaffAction): Promise<string> {
  const claim = randomUUID();
  for (;;) {
    const rows = await db.many(
      `INSERT INTO staff_payment_claims (payment_id, staff_id, action, claim, expires_at)
       SELECT id, $2, $3, $4, now() + make_interval(secs => $5) FROM payments WHERE id = $1
       ON CONFLICT (payment_id) DO UPDATE SET staff_id = EXCLUDED.staff_id, action = EXCLUDED.action, claim = EXCLUDED.claim,
         expires_at = EXCLUDED.expires_at
       WHERE staff_payment_claims.expires_at < now()
       RETURNING claim`,
      [paymentId, staff.id, action, claim, CLAIM_SECONDS],
    );
    if (rows.length > 0) return claim;
    const held = await db.one<{ action: string }>('SELECT action FROM staff_payment_claims WHERE payment_id = $1', [paymentId]);
    if (held) throw actionPending(held.action);
    if (!(await db.one('SELECT 1 FROM payments WHERE id = $1', [paymentId]))) throw notFound('payment');
  }
}

async function withClaim<T>(db: Database, paymentId: string, staff: StaffMember, action: StaffAction, work: () => Promise<T>): Promise<T> {
  const claim = await claimPayment(db, paymentId, staff, action);
  try {
    return await work();
  } finally {
    await db.many('DELETE FROM staff_payment_claims WHERE payment_id = $1 AND claim = $2', [paymentId, claim]);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * Runs `work` once per (staff member, key): a repeat with the same request gets the stored answer, with
 * another request a 422. A refusal (an ApiError) is not stored: repeating it asks again, and gets the same
 * answer from the domain, or a different one if the payment moved on.
 */
export async function onceByKey(
  db: Database,
  staff: StaffMember,
  key: string,
  request: unknown,
  work: () => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const keyHash = sha256(key);
  const requestHash = sha256(canonicalJson(request));
  const inserted = await db.many(
    `INSERT INTO staff_idempotency_keys (staff_id, key_hash, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING key_hash`,
    [staff.id, keyHash, requestHash],
  );
  if (inserted.length === 0) {
    const stored = await db.one<{ request_hash: string; response_status: number | null; response_body: string | null }>(
      'SELECT request_hash, response_status, response_body FROM staff_idempotency_keys WHERE staff_id = $1 AND key_hash = $2',
      [staff.id, keyHash],
    );
    if (!stored || stored.request_hash !== requestHash) throw idempotencyKeyReused();
    if (stored.response_status === null) throw idempotencyKeyInUse();
    return { status: stored.response_status, body: JSON.parse(stored.response_body!), replayed: true };
  }
  try {
    const response = await work();
    await db.many('UPDATE staff_idempotency_keys SET response_status = $3, response_body = $4 WHERE staff_id = $1 AND key_hash = $2', [
      staff.id, keyHash, response.status, JSON.stringify(response.body),
    ]);
    return { ...response, replayed: false };
  } catch (error) {
    await db.many('DELETE FROM staff_idempotency_keys WHERE staff_id = $1 AND key_hash = $2', [staff.id, keyHash]);
    throw error;
  }
}

export interface StaffActionDeps extends ReviewDeps {
  refunds: RefundService;
}

export function decideHeldPayment(deps: StaffActionDeps, staff: StaffMember, paymentId: string, verdict: 'approve' | 'reject'): Promise<Payment> {
  return withClaim(deps.db, paymentId, staff, verdict, () => (verdict === 'approve' ? approveHeldPayment : rejectHeldPayment)(deps, paymentId));
}

export function refundPayment(
  deps: StaffActionDeps,
  staff: StaffMember,
  request: { paymentId: string; amount?: number; reason: string },
): Promise<RefundRecord> {
  return withClaim(deps.db, request.paymentId, staff, 'refund', () => deps.refunds.refund(request));
}

export interface PaymentActionRequest {
  action: StaffAction;
  paymentId: string;
  reason: string;
  /** Refunds only: minor units, the whole refundable rest when omitted. */
  amount?: number;
}

/** One staff action and the answer the API gives for it; the CLI runs the same. */
export async function runPaymentAction(deps: StaffActionDeps, staff: StaffMember, request: PaymentActionRequest): Promise<StoredResponse> {
  if (request.action !== 'refund') {
    const payment = await decideHeldPayment(deps, staff, request.paymentId, request.action);
    return { status: 200, body: { ...paymentView(payment), review_reason: payment.reviewReason } };
  }
  const refund = await refundPayment(deps, staff, { paymentId: request.paymentId, amount: request.amount, reason: request.reason });
  return { status: 201, body: { ...refund, object: 'refund', payment_id: refund.paymentId } };
}
