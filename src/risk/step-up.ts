import { createHash } from 'node:crypto';
import type { Database, Sql } from '../db/database';
import { lockPayment, Payment } from '../payments/payment';
import { ownFact, recordFacts } from '../payments/fact-journal';
import { ApiError, invalidStateTransition, notFound } from '../shared/errors';
import { appendDecision, latestDecision } from './journal';
import { BUILT_IN_REASONS } from './rules';
import type { StepUpSettings } from './settings';

/** Why a step-up token was refused; journaled, never shown (the app only learns "not accepted"). */
export type StepUpFailure = 'token_invalid' | 'wrong_subject' | 'method_missing' | 'auth_too_old' | 'jti_missing' | 'token_reused';

export type StepUpClaims = Record<string, unknown>;

/** Clock skew allowed for an `auth_time` slightly in the future of our clock. */
const SKEW_SECONDS = 5;

/**
 * The claims a step-up token must carry beyond a valid signature, issuer, audience and expiry (which
 * `verifyJwt` checks): the same subject as the payer, a strong method (`amr` or `acr` as configured), an
 * authentication moments ago rather than a long-lived session, and a `jti`, without which the token could
 * not be held to a single use.
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
  if (typeof claims.jti !== 'string' || claims.jti === '') return 'jti_missing';
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

/** A token is known by its issuer and `jti` (unique per issuer), kept only as a hash. */
export const tokenHash = (claims: StepUpClaims) => createHash('sha256').update(`${String(claims.iss ?? '')}\u0000${String(claims.jti)}`).digest('base64url');

/** The token's checks, done before the transaction: a signature check can wait on the identity service's keys. */
type TokenCheck = { failure: StepUpFailure } | { tokenHash: string };

async function checkToken(deps: StepUpDeps, request: StepUpRequest): Promise<TokenCheck> {
  let claims: StepUpClaims;
  try {
    claims = await deps.verifyJwt(request.token);
  } catch (error) {
    // The identity service being down is no failed try: it must not count towards blocking the payment.
    if (error instanceof ApiError && error.status >= 500) throw error;
    return { failure: 'token_invalid' };
  }
  const failure = stepUpFailure(claims, { userId: request.userId, now: request.now, settings: deps.settings });
  return failure ? { failure } : { tokenHash: tokenHash(claims) };
}

/**
 * A token that passes its checks is spent on this payment. The primary key decides between two payments
 * trying one token at once: the second insert waits for the first transaction and, once it commits, finds
 * the token used.
 */
async function spendToken(tx: Sql, check: TokenCheck, paymentId: string): Promise<StepUpFailure | undefined> {
  if ('failure' in check) return check.failure;
  const spent = await tx.many(
    'INSERT INTO risk_step_up_tokens (token_hash, payment_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING token_hash',
    [check.tokenHash, paymentId],
  );
  return spent.length > 0 ? undefined : 'token_reused';
}

async function passedBefore(tx: Sql, paymentId: string): Promise<boolean> {
  return Boolean(await tx.one('SELECT 1 AS passed FROM risk_step_up_attempts WHERE payment_id = $1 AND passed', [paymentId]));
}

/**
 * Moves a `requires_verification` payment on with a fresh, unused step-up token, or counts a failure (a
 * token used before is one); the configured number of failures blocks it for good. The caller then opens
 * the provider session, outside this transaction (a provider call never holds a database transaction
 * open). Failures are committed even though the caller answers with an error, so retrying cannot reset the
 * count. Rows are locked: parallel tries are counted one by one.
 */
export async function verifyStepUp(deps: StepUpDeps, request: StepUpRequest): Promise<StepUpResult> {
  const check = await checkToken(deps, request);
  return deps.db.transaction(async (tx) => {
    const payment = await lockPayment(tx, request.paymentId);
    if (!payment || payment.userHash !== request.userHash) throw notFound('payment');
    // Verified before, but the provider session could not be opened then: let the retry open it.
    if (payment.status === 'requires_payment' && !payment.providerRef && (await passedBefore(tx, payment.id))) return { outcome: 'passed', payment };
    if (payment.status !== 'requires_verification') {
      throw invalidStateTransition(`A payment in status ${payment.status} does not wait for verification.`);
    }
    const failure = await spendToken(tx, check, payment.id);
    await tx.many('INSERT INTO risk_step_up_attempts (payment_id, passed, failure) VALUES ($1, $2, $3)', [payment.id, !failure, failure ?? null]);
    if (!failure) {
      const passed = await recordFacts(tx, payment.id, [ownFact('verified', 'risk:step_up_passed')]);
      await journalStepUp(tx, payment, true, undefined, 0);
      return { outcome: 'passed', payment: passed.payment };
    }
    const counted = await tx.one<{ failures: number }>(
      'SELECT count(*)::int AS failures FROM risk_step_up_attempts WHERE payment_id = $1 AND NOT passed',
      [payment.id],
    );
    const failures = counted?.failures ?? 0;
    if (failures < deps.settings.maxFailures) return { outcome: 'failed', payment, failure, attemptsLeft: deps.settings.maxFailures - failures };
    const blocked = await recordFacts(tx, payment.id, [ownFact('verification_failed', 'risk:step_up_failed')]);
    await journalStepUp(tx, payment, false, failure, failures);
    return { outcome: 'blocked', payment: blocked.payment, failure };
  });
}
