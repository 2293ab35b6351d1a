import type { Database, Sql } from '../db/database';
import { lockPayment, Payment } from '../payments/payment';
import { transition } from '../payments/state-machine';
import { invalidStateTransition, notFound } from '../shared/errors';
import { appendDecision, latestDecision } from './journal';
import { BUILT_IN_REASONS } from './rules';
import type { StepUpSettings } from './settings';

/** Why a step-up token was refused; journaled, never shown (the app only learns "not accepted"). */
export type StepUpFailure = 'token_invalid' | 'wrong_subject' | 'method_missing' | 'auth_too_old';

export type StepUpClaims = Record<string, unknown>;

/** Clock skew allowed for an `auth_time` slightly in the future of our clock. */
const SKEW_SECONDS = 5;

/**
 * The claims a step-up token must carry beyond a valid signature, issuer, audience and expiry (which
 * `verifyJwt` checks): the same subject as the payer, a strong method (`amr` or `acr` as configured), and
 * an authentication moments ago rather than a long-lived session.
 */
export function stepUpFailure(claims: StepUpClaims, expected: { userId: string; now: Date; settings: StepUpSettings }): StepUpFailure | undefined {
  const { settings } = expected;
  if (claims.sub !== expected.userId) return 'wrong_subject';
  const amr = Array.isArray(claims.amr) ? claims.amr : [];
  const strong = amr.includes(settings.amr) || (settings.acr !== undefined && claims.acr === settings.acr);
  if (!strong) return 'method_missing';
  const authTime = claims.auth_time;
  const nowSeconds = expected.now.getTime() / 1000;
  if (typeof authTime !== 'number' || authTime > nowSeconds + SKEW_SECONDS || nowSeconds - authTime > settings.maxAgeSeconds) {
    return 'auth_too_old';
  }
  return undefined;
}

export interface StepUpDeps {
  db: Database;
  settings: StepUpSettings;
  /** Verifies signature, issuer, audience, exp/nbf (the app-token verifier); throws when any fails. */
  verifyJwt: (token: string) => Promise<StepUpClaims>;
}

export interface StepUpRequest {
  paymentId: string;
  userId: string;
  userHash: string;
  token: string;
  now: Date;
}

export type StepUpResult =
  | { outcome: 'passed'; payment: Payment }
  | { outcome: 'failed'; payment: Payment; failure: StepUpFailure; attemptsLeft: number }
  | { outcome: 'blocked'; payment: Payment; failure: StepUpFailure };

async function journalStepUp(tx: Sql, payment: Payment, passed: boolean, failure: StepUpFailure | undefined, failures: number) {
  const checkout = await latestDecision(tx, payment.id);
  const code = passed ? 'verification_passed' : 'verification_failed';
  await appendDecision(tx, payment.id, {
    stage: 'step_up',
    rulesetVersion: checkout?.rulesetVersion ?? 'none',
    decision: passed ? 'allow' : 'block',
    score: checkout?.score ?? 0,
    failMode: false,
    features: { step_up: passed ? 'passed' : failure, step_up_failures: failures },
    hits: [],
    explanation: {
      reasons: [...(checkout?.explanation.reasons ?? []), { code, description: BUILT_IN_REASONS[code] }],
      how_to_contest: checkout?.explanation.how_to_contest ?? '',
    },
  });
}

async function passedBefore(tx: Sql, paymentId: string): Promise<boolean> {
  return Boolean(await tx.one('SELECT 1 AS passed FROM risk_step_up_attempts WHERE payment_id = $1 AND passed', [paymentId]));
}

/**
 * Moves a `requires_verification` payment on with a fresh step-up token, or counts a failure; the
 * configured number of failures blocks it for good. The caller then opens the provider session, outside
 * this transaction (a provider call never holds a database transaction open). Failures are committed even though the caller answers
 * with an error, so retrying cannot reset the count. Rows are locked: parallel tries are counted one by one.
 */
export async function verifyStepUp(deps: StepUpDeps, request: StepUpRequest): Promise<StepUpResult> {
  let failure: StepUpFailure | undefined;
  try {
    failure = stepUpFailure(await deps.verifyJwt(request.token), { userId: request.userId, now: request.now, settings: deps.settings });
  } catch {
    failure = 'token_invalid';
  }
  return deps.db.transaction(async (tx) => {
    const payment = await lockPayment(tx, request.paymentId);
    if (!payment || payment.userHash !== request.userHash) throw notFound('payment');
    // Verified before, but the provider session could not be opened then: let the retry open it.
    if (payment.status === 'requires_payment' && !payment.providerRef && (await passedBefore(tx, payment.id))) return { outcome: 'passed', payment };
    if (payment.status !== 'requires_verification') {
      throw invalidStateTransition(`A payment in status ${payment.status} does not wait for verification.`);
    }
    await tx.many('INSERT INTO risk_step_up_attempts (payment_id, passed, failure) VALUES ($1, $2, $3)', [payment.id, !failure, failure ?? null]);
    if (!failure) {
      await transition(tx, payment.id, 'requires_payment', 'risk:step_up_passed', {});
      await tx.many('UPDATE payments SET next_action = NULL WHERE id = $1', [payment.id]);
      await journalStepUp(tx, payment, true, undefined, 0);
      return { outcome: 'passed', payment: (await lockPayment(tx, payment.id))! };
    }
    const counted = await tx.one<{ failures: number }>(
      'SELECT count(*)::int AS failures FROM risk_step_up_attempts WHERE payment_id = $1 AND NOT passed',
      [payment.id],
    );
    const failures = counted?.failures ?? 0;
    if (failures < deps.settings.maxFailures) return { outcome: 'failed', payment, failure, attemptsLeft: deps.settings.maxFailures - failures };
    const blocked = await transition(tx, payment.id, 'blocked', 'risk:step_up_failed', {});
    await tx.many('UPDATE payments SET next_action = NULL WHERE id = $1', [payment.id]);
    await journalStepUp(tx, payment, false, failure, failures);
    return { outcome: 'blocked', payment: { ...blocked.payment, nextAction: null }, failure };
  });
}
