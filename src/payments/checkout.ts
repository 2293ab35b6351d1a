import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppUser } from '../auth/app-tokens';
import type { Catalog, CatalogItem } from '../catalog/catalog';
import type { Database, Sql } from '../db/database';
import type { PersonalDataVault, SealingKey } from '../privacy/vault';
import type { ProviderRegistry } from '../providers/registry';
import { PaymentProvider, ProviderError, ProviderName, ProviderSession } from '../providers/types';
import { refuseUnconsentedMinor } from '../rights/minors';
import type { JournalEntry } from '../risk/journal';
import type { RiskAssessment, RiskEngine } from '../risk/types';
import { ApiError, invalidRequest, paymentBlocked } from '../shared/errors';
import { newId } from '../shared/ids';
import { MAX_AMOUNT } from '../shared/money';
import type { Logger } from 'pino';
import { ownFact, recordFacts } from './fact-journal';
import { claimKeyAndCreatePayment, PaymentDraft, storeSessionAndAnswer } from './checkout-store';
import { completeIdempotencyKey, idempotencyKeyInUse, idempotencyScope, IdempotencyScope, Lease, readTakenKey, StoredResponse, whileLeased } from './idempotency';
import { findPayment, Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from './payment';
import type { CheckoutRequest } from './schemas';
import type { PaymentStatus } from './status';
import { paymentView } from './views';

export interface CheckoutDeps {
  db: Database;
  catalog: Catalog;
  providers: ProviderRegistry;
  vault: PersonalDataVault;
  risk: RiskEngine;
  publicBaseUrl: string;
  idempotencyTtlHours: number;
  /** How long a request waits for another request holding the same key before answering 409. */
  inProgressWaitMs: number;
  logger: Logger;
  /**
   * Throws when this user's data may not go to that provider (data residency: src/rights/residency.ts).
   * Asked before a checkout stores anything, and again before a session is opened later (after step-up).
   */
  mayReachProvider?: (userHash: string, provider: ProviderName) => Promise<void>;
}

export interface CheckoutCommand {
  user: AppUser;
  idempotencyKey: string;
  request: CheckoutRequest;
  ipAddress: string;
  /**
   * The caller's per-user rate limit, spent alongside the risk counters rather than before them, so they
   * share one Redis round trip. Throws (429) before anything is stored; the counters have counted the
   * attempt all the same, as velocity should: a refused burst is still a burst.
   */
  admit?: () => Promise<void>;
}

const STATUS_FOR_DECISION: Record<RiskAssessment['decision'], PaymentStatus> = {
  allow: 'requires_payment',
  review: 'requires_payment',
  challenge: 'requires_verification',
  block: 'blocked',
};

const POLL_MS = 50;
const MAX_SEALING_ATTEMPTS = 3;

interface Decided {
  id: string;
  provider: PaymentProvider;
  item: CatalogItem;
  money: { amount: number; currency: string };
  deviceHash: string;
  assessment: RiskAssessment;
}

/** A refusal stored as the key's answer; it names the payment it kept, so the app can ask for the decision. */
const errorResponse = (error: ApiError, paymentId: string): StoredResponse => ({
  status: error.status,
  body: { error: { type: error.type, code: error.code, message: error.message, payment_id: paymentId } },
});

const providerRefused = (provider: string) =>
  new ApiError(502, 'api_error', 'provider_error', `The ${provider} provider refused to open this payment. Try another payment method.`);

/**
 * Creates a payment for a catalog item, in three steps so that no database transaction stays open while a
 * provider is called, and in as few round trips as the work allows (three statements for a returning user):
 *   1. risk is decided (one blocklist read beside the Redis scripts), the personal fields are sealed under
 *      the user's (cached) data key, and one statement claims the Idempotency-Key and stores the encrypted
 *      payment, its history row and the decision, share-locking the key's row against an erasure;
 *   2. the provider session is opened (keyed by our payment id, so doing it twice opens it once);
 *   3. one statement stores the session and the answer.
 * A request that dies between 1 and 3 leaves the key "in progress" under a lease; a retry with the same
 * key resumes that same payment, and concurrent duplicates wait for the first answer and replay it.
 */
export function createCheckoutService(deps: CheckoutDeps) {
  function priceOf(request: CheckoutRequest, provider: PaymentProvider) {
    const item = deps.catalog.find(request.sku);
    const amount = item.amount * request.quantity;
    if (amount > MAX_AMOUNT) throw invalidRequest('parameter_invalid', 'The order total is above the largest amount accepted.', 'quantity');
    const accepted = provider.capabilities.currencies;
    if (accepted && !accepted.includes(item.currency)) {
      throw invalidRequest('parameter_invalid', `The ${provider.name} provider does not accept ${item.currency}.`, 'provider');
    }
    return { item, money: { amount, currency: item.currency } };
  }

  /**
   * Prices the item and decides risk, outside any transaction (the blocklist read goes to the pool).
   * Pricing happens only for a new key, so a replay never depends on today's catalog.
   */
  async function decide(command: CheckoutCommand, scope: IdempotencyScope): Promise<Decided> {
    const { request, user } = command;
    const provider = deps.providers.forCheckout(request.provider);
    const { item, money } = priceOf(request, provider);
    const id = newId('pay');
    const deviceHash = deps.vault.blindIndex.hash('device', request.device.id);
    // Issued in the same tick, so the rate limit's Redis command goes out in one write with the counters'.
    const [assessment] = await Promise.all([
      deps.risk.assess(
        {
          paymentId: id,
          // One attempt per user and key, so a duplicate of this request is not counted again.
          attemptId: deps.vault.blindIndex.hash('risk_attempt', `${scope.userHash}.${scope.keyHash}`),
          userId: user.id, userHash: scope.userHash, ipAddress: command.ipAddress, location: request.location,
          device: { ...request.device, osVersion: request.device.os_version, hash: deviceHash },
          claims: { minor: user.minor, guardianConsent: user.guardianConsent, country: user.country },
          money, sku: item.sku, quantity: request.quantity, provider: provider.name, now: new Date(),
        },
        deps.db,
      ),
      command.admit?.(),
    ]);
    refuseUnconsentedMinor(assessment);
    return { id, provider, item, money, deviceHash, assessment };
  }

  /** The payment as step 1's single statement stores it, its personal fields sealed under `key`. */
  function draftPayment(key: SealingKey, command: CheckoutCommand, scope: IdempotencyScope, decided: Decided): PaymentDraft {
    const { request, user } = command;
    const { id, provider, item, money, deviceHash, assessment } = decided;
    const status = STATUS_FOR_DECISION[assessment.decision];
    const seal = (column: string, value: string) => key.seal(`payments.${column}`, value);
    return {
      id, userHash: scope.userHash, dataKeyId: key.id, userIdEnc: seal('user_id', user.id), deviceHash,
      deviceEnc: seal('device', JSON.stringify(request.device)), ipEnc: seal('ip', command.ipAddress),
      locationEnc: request.location ? seal('location', JSON.stringify(request.location)) : null,
      sku: item.sku, itemName: item.name,
      quantity: request.quantity, amount: money.amount, currency: money.currency, provider: request.provider,
      captureMethod: assessment.decision === 'review' && provider.capabilities.manualCapture ? 'manual' : 'automatic',
      status, riskDecision: assessment.decision, riskScore: assessment.score,
      nextAction: status === 'requires_verification' ? { type: 'verify', verify_url: `${deps.publicBaseUrl}/v1/checkouts/${id}/verify` } : null,
      historySource: `checkout:risk_${assessment.decision}`,
      journal: assessment.journal as JournalEntry | undefined,
    };
  }

  type Step = { response: StoredResponse } | { payment: Payment; lease: Lease } | { state: 'busy' };

  /**
   * Claims the key and stores the payment under the user's data key. A blocked or challenged payment is
   * answered at once, in the same transaction, so its key never points at a payment without an answer; a
   * payment that may now be paid needs no transaction (its answer comes with its session, step 3).
   */
  async function claim(command: CheckoutCommand, scope: IdempotencyScope, decided: Decided, lease: Lease): Promise<Step | 'key_taken' | 'data_key_gone'> {
    const draft = draftPayment(await deps.vault.sealingKey(deps.db, scope.userHash), command, scope, decided);
    const store = (sql: Sql) => claimKeyAndCreatePayment(sql, scope, deps.idempotencyTtlHours, lease, draft);
    if (draft.status === 'requires_payment') {
      const claimed = await store(deps.db);
      return claimed.outcome === 'created' ? { payment: toPayment(claimed.row), lease } : claimed.outcome;
    }
    return deps.db.transaction(async (tx) => {
      const claimed = await store(tx);
      if (claimed.outcome !== 'created') return claimed.outcome;
      const payment = toPayment(claimed.row);
      const response = payment.status === 'blocked' ? errorResponse(paymentBlocked(), payment.id) : { status: 201, body: paymentView(payment) };
      await completeIdempotencyKey(tx, scope, lease, response, payment.id);
      return { response };
    });
  }

  /**
   * Step 1, for a key that looks free. Undefined when the key was taken after all (then nothing was
   * written). Sealed under a key an erasure deleted meanwhile, nothing is written either: the user is a
   * fresh subject now, so their fields are sealed again under a new key.
   */
  async function createPayment(command: CheckoutCommand, scope: IdempotencyScope): Promise<Step | undefined> {
    const decided = await decide(command, scope);
    const lease = randomUUID();
    for (let attempt = 1; ; attempt++) {
      const step = await claim(command, scope, decided, lease);
      if (step === 'key_taken') return undefined;
      if (step !== 'data_key_gone') return step;
      deps.vault.forget(scope.userHash);
      // Two erasures of one user within one checkout are not a race but a fault worth a 500.
      if (attempt === MAX_SEALING_ATTEMPTS) throw new Error('The data key of this user vanished again and again while sealing');
    }
  }

  /** One look at the key: a free key gets its payment; a taken one is replayed, resumed or waited for. */
  async function attempt(command: CheckoutCommand, scope: IdempotencyScope, keyLooksFree: boolean): Promise<Step> {
    const created = keyLooksFree ? await createPayment(command, scope) : undefined;
    if (created) return created;
    const taken = await readTakenKey(deps.db, scope);
    if (!taken) return attempt(command, scope, true); // the key expired and is gone: start afresh
    if (taken.state === 'resumed') return { payment: (await findPayment(deps.db, taken.paymentId))!, lease: taken.lease };
    return taken;
  }

  /** Stores a fresh session with its payment; undefined when the payment moved on meanwhile. */
  type SessionStore = (payment: Payment, session: ProviderSession) => Promise<Payment | undefined>;

  const storeSession: SessionStore = async (payment, session) => {
    // A payer as quick as the provider's webhook may have paid already: the session is stored all the same.
    const row = await deps.db.one<PaymentRow>(
      `UPDATE payments SET provider_ref = $2, next_action = $3, updated_at = now()
        WHERE id = $1 AND provider_ref IS NULL AND status NOT IN ('canceled', 'blocked') RETURNING ${PAYMENT_COLUMNS}`,
      [payment.id, session.providerRef, JSON.stringify(session.nextAction)],
    );
    return row && toPayment(row);
  };

  /**
   * Step 2: opens the provider session of a payment that may now be paid, unless it has one. Keyed by our
   * payment id, so two callers racing (a resumed checkout, a retried verification) get the same session.
   * The session is stored unless the payment was canceled meanwhile (the expiry sweep), in which case the
   * session just opened is closed again; money paid on it anyway is held for a person (paid_after_cancel).
   */
  async function ensureSession(payment: Payment, store: SessionStore): Promise<Payment> {
    if (payment.providerRef) return payment;
    const provider = deps.providers.forCheckout(payment.provider);
    const money = { amount: payment.amount, currency: payment.currency };
    const session = await provider.createSession({
      paymentId: payment.id,
      money,
      item: { sku: payment.sku, name: payment.itemName, quantity: payment.quantity },
      captureMethod: payment.captureMethod,
      idempotencyKey: `checkout_${payment.id}`,
    });
    const stored = await store(payment, session);
    if (stored) return stored;
    const current = (await findPayment(deps.db, payment.id))!;
    if (current.providerRef !== session.providerRef) {
      await provider.cancel({ paymentId: payment.id, providerRef: session.providerRef, money }).catch((error: unknown) => {
        deps.logger.warn({ err: error, paymentId: payment.id }, 'could not close a session opened for a payment that moved on');
      });
    }
    return current;
  }

  /**
   * Opens the session of a payment that waits for payment (checkout, or after a passed step-up). A provider
   * that refuses for good fails the payment (502 provider_error); one that is down leaves it resumable.
   */
  async function openSession(payment: Payment, store: SessionStore = storeSession): Promise<Payment> {
    if (payment.status !== 'requires_payment') return payment;
    if (!payment.providerRef) await deps.mayReachProvider?.(payment.userHash, payment.provider);
    try {
      return await ensureSession(payment, store);
    } catch (error) {
      if (!(error instanceof ProviderError) || error.kind !== 'terminal') throw error;
      await deps.db.transaction((tx) => recordFacts(tx, payment.id, [ownFact('failed', `${payment.provider}:session_refused`)]));
      throw providerRefused(payment.provider);
    }
  }

  /**
   * Steps 2 and 3 for a checkout, under a renewed lease. In the common case the session and the answer are
   * stored by one statement; otherwise (a resumed payment that has its session, a refusal) the answer is
   * stored on its own. Undefined when another request took the key over meanwhile.
   */
  async function openAndAnswer(payment: Payment, scope: IdempotencyScope, lease: Lease): Promise<StoredResponse | undefined> {
    return whileLeased(deps.db, scope, lease, async () => {
      let storedWithSession: { response: StoredResponse; answered: boolean } | undefined;
      const storeWithAnswer: SessionStore = async (current, session) => {
        // The answer shows the payment as the statement leaves it, so its time is set here rather than by the server.
        const updatedAt = new Date(Math.max(Date.now(), current.createdAt.getTime()));
        const stored: Payment = { ...current, providerRef: session.providerRef, nextAction: session.nextAction, updatedAt };
        const response = { status: 201, body: paymentView(stored) };
        const written = await storeSessionAndAnswer(deps.db, scope, lease, { paymentId: current.id, ...session, updatedAt }, response);
        if (!written) return undefined;
        storedWithSession = { response, answered: written.answered };
        return stored;
      };
      let response: StoredResponse;
      try {
        response = { status: 201, body: paymentView(await openSession(payment, storeWithAnswer)) };
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'provider_error')) throw error;
        response = errorResponse(error, payment.id);
      }
      if (storedWithSession) return storedWithSession.answered ? storedWithSession.response : undefined;
      const stored = await completeIdempotencyKey(deps.db, scope, lease, response, payment.id);
      return stored ? response : undefined;
    });
  }

  /** The answer to a checkout; `replayed` when it is the stored answer of an earlier request with the same key. */
  async function checkout(command: CheckoutCommand): Promise<StoredResponse & { replayed?: true }> {
    const scope = idempotencyScope(deps.vault.blindIndex, deps.vault.userHash(command.user.id), command.idempotencyKey, command.request);
    await deps.mayReachProvider?.(scope.userHash, command.request.provider);
    const deadline = Date.now() + deps.inProgressWaitMs;
    // Most keys are new: the first look tries to create at once, later looks only read the key.
    for (let keyLooksFree = true; ; keyLooksFree = false) {
      const step = await attempt(command, scope, keyLooksFree);
      if ('response' in step) return 'state' in step ? { ...step.response, replayed: true } : step.response;
      if ('payment' in step) {
        const answer = await openAndAnswer(step.payment, scope, step.lease);
        if (answer) return answer;
        continue; // another request took the key over: its answer is the one to give
      }
      if (Date.now() > deadline) throw idempotencyKeyInUse();
      await sleep(POLL_MS);
    }
  }

  return { checkout, openSession };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
