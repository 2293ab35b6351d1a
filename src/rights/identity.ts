import { createHmac, createSecretKey } from 'node:crypto';
import type Redis from 'ioredis';
import type { AppUser, TokenVerifier } from '../auth/app-tokens';
import { consume, limiter } from '../http/rate-limit';
import type { BlindIndex } from '../privacy/keyring';
import { stepUpFailure, tokenHash } from '../risk/step-up';
import type { StepUpSettings } from '../risk/settings';
import { ApiError } from '../shared/errors';

export const STEP_UP_HEADER = 'Step-Up-Token';

const stepUpRequired = (message: string) => new ApiError(403, 'permission_error', 'step_up_required', message, { param: STEP_UP_HEADER });

const HOUR_SECONDS = 3_600;

export interface IdentityCheckDeps {
  tokens: TokenVerifier;
  stepUp: StepUpSettings;
  redis?: Redis;
  blindIndex: BlindIndex;
  requestsPerHour: number;
}

/** A verified rights request: whose, and the hash of the step-up token it spends. */
export interface ProvenIdentity {
  subjectRef: string;
  tokenHash: string;
}

/**
 * The policy verifies identity before it answers a rights request: an export hands over everything, an
 * erasure cannot be undone. So each needs a fresh step-up token of the caller, by the same rules as a
 * checkout's verification (strong method, recent authentication, a `jti`), spent by the request it proves
 * (rights_requests.token_hash is unique). Requests are budgeted per user and hour before the token is even
 * looked at, so guessing tokens costs the budget too.
 */
export function createIdentityCheck(deps: IdentityCheckDeps) {
  const budget = limiter(deps.redis, 'kalos:rl:rights', deps.requestsPerHour, HOUR_SECONDS);
  // A key of its own: the reference outlives an erasure (the request stays answerable) without being the
  // blind index that every other table used to link the user by.
  const refKey = createSecretKey(deps.blindIndex.deriveKey('rights-subject-v1'));

  const subjectRef = (userId: string) => createHmac('sha256', refKey).update(userId).digest('base64url');

  async function prove(user: AppUser, token: string | undefined): Promise<ProvenIdentity> {
    const ref = subjectRef(user.id);
    await consume(budget, ref);
    if (!token) throw stepUpRequired(`Send a fresh step-up token from your identity service in the ${STEP_UP_HEADER} header.`);
    let claims: Record<string, unknown>;
    try {
      claims = await deps.tokens.verify(token);
    } catch (error) {
      if (error instanceof ApiError && error.status >= 500) throw error;
      throw stepUpRequired('The step-up token is not valid.');
    }
    const failure = stepUpFailure(claims, { userId: user.id, now: new Date(), settings: deps.stepUp });
    if (failure) throw stepUpRequired('The step-up token is not fresh, strong or meant for this user; authenticate again.');
    return { subjectRef: ref, tokenHash: tokenHash(claims) };
  }

  return { prove, subjectRef };
}

export type IdentityCheck = ReturnType<typeof createIdentityCheck>;

/** A step-up token already spent on an earlier rights request. */
export const stepUpReused = () => stepUpRequired('This step-up token was used already; authenticate again for a new one.');
