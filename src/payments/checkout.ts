import { setTimeout as sleep } from 'node:timers/promises';
import type { AppUser } from '../auth/app-tokens';
import type { Catalog, CatalogItem } from '../catalog/catalog';
import type { Database, Sql } from '../db/database';
import type { PersonalDataVault } from '../privacy/vault';
import type { ProviderRegistry } from '../providers/registry';
import { PaymentProvider, ProviderError, ProviderName } from '../providers/types';
import { refuseUnconsentedMinor } from '../rights/minors';
import type { RiskAssessment, RiskEngine } from '../risk/types';
import { ApiError, invalidRequest, paymentBlocked } from '../shared/errors';
import { newId } from '../shared/ids';
import { MAX_AMOUNT, Money } from '../shared/money';
import type { Logger } from 'pino';
import { ownFact, recordFacts } from './fact-journal';
import {
  attachPayment,
  claimIdempotencyKey,
  completeIdempotencyKey,
  idempotencyScope,
  IdempotencyScope,
  Lease,
  StoredResponse,
  whileLeased,
} from './idempotency';
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
}

const STATUS_FOR_DECISION: Record<RiskAssessment['decision'], PaymentStatus> = {
  allow: 'requires_payment',
  review: 'requires_payment',
  challenge: 'requires_verification',
  block: 'blocked',
};

const POLL_MS = 50;

/** A refusal stored as the key's answer; it names the payment it kept, so the app can ask for the decision. */
const errorResponse = (error: ApiError, paymentId: string): StoredResponse => ({
  status: error.status,
  body: { error: { type: error.type, code: error.code, message: error.message, payment_id: paymentId } },
});

const keyInUse = () =>
  new ApiError(409, 'idempotency_error', 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
    param: 'Idempotency-Key',
    headers: { 'Retry-After': '1' },
  });

const providerRefused = (provider: string) =>
  new ApiError(502, 'api_error', 'provider_error', `The ${provider} provider refused to open this payment. Try another payment method.`);

/**
 * Creates a payment for a catalog item, in three steps so that no database transaction stays open while a
 * provider is called:
 *   1. one short transaction claims the Idempotency-Key, decides risk, and stores the encrypted payment;
 *   2. the provider session is opened (keyed by our payment id, so doing it twice opens it once);
 *   3. a second transaction stores the session and the answer.
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

  interface NewPayment {
    id: string;
    userHash: string;
    deviceHash: string;
    status: PaymentStatus;
    assessment: RiskAssessment;
    item: CatalogItem;
    money: Money;
    captureMethod: 'automatic' | 'manual';
  }

  async function insertPayment(tx: Sql, command: CheckoutCommand, fields: NewPayment) {
    const { request, user, ipAddress } = command;
    const seal = (column: string, value: string) => deps.vault.encrypt(tx, fields.userHash, `payments.${column}`, value);
    const nextAction =
      fields.status === 'requires_verification' ? { type: 'verify', verify_url: `${deps.publicBaseUrl}/v1/checkouts/${fields.id}/verify` } : null;
    await tx.many(
      `INSERT INTO payments (id, user_hash, user_id_enc, device_hash, device_enc, ip_enc, location_enc, sku, item_name, quantity,
         amount, currency, provider, capture_method, status, risk_decision, risk_score, next_action)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        fields.id, fields.userHash, await seal('user_id', user.id), fields.deviceHash, await seal('device', JSON.stringify(request.device)),
        await seal('ip', ipAddress), request.location ? await seal('location', JSON.stringify(request.location)) : null,
        fields.item.sku, fields.item.name, request.quantity, fields.money.amount, fields.money.currency, request.provider,
        fields.captureMethod, fields.status, fields.assessment.decision, fields.assessment.score, nextAction && JSON.stringify(nextAction),
      ],
    );
    await tx.many('INSERT INTO payment_status_history (payment_id, from_status, to_status, source) VALUES ($1, NULL, $2, $3)', [
      fields.id, fields.status, `checkout:risk_${fields.assessment.decision}`,
    ]);
  }

  /**
   * Step 1, for a freshly claimed key: price the item, decide risk and store the payment. Blocked and
   * challenged payments are answered here. Pricing happens only now, so a replay never depends on today's
   * catalog; a refusal rolls the claim back with it.
   */
  async function createPayment(tx: Sql, command: CheckoutCommand, scope: IdempotencyScope, lease: Lease) {
    const { request, user } = command;
    const provider = deps.providers.forCheckout(request.provider);
    const { item, money } = priceOf(request, provider);
    const id = newId('pay');
    const deviceHash = deps.vault.blindIndex.hash('device', request.device.id);
    const assessment = await deps.risk.assess(
      {
        paymentId: id, userId: user.id, userHash: scope.userHash, ipAddress: command.ipAddress, location: request.location,
        device: { ...request.device, osVersion: request.device.os_version, hash: deviceHash },
        claims: { minor: user.minor, guardianConsent: user.guardianConsent, country: user.country },
        money, sku: item.sku, quantity: request.quantity, provider: provider.name, now: new Date(),
      },
      tx,
    );
    refuseUnconsentedMinor(assessment);
    const status = STATUS_FOR_DECISION[assessment.decision];
    const captureMethod = assessment.decision === 'review' && provider.capabilities.manualCapture ? 'manual' : 'automatic';
    await insertPayment(tx, command, { id, userHash: scope.userHash, deviceHash, status, assessment, item, money, captureMethod });
    await deps.risk.record(tx, id, assessment);
    const payment = (await findPayment(tx, id))!;
    if (status === 'requires_payment') {
      await attachPayment(tx, scope, id);
      return { payment, lease };
    }
    const response = status === 'blocked' ? errorResponse(paymentBlocked(), id) : { status: 201, body: paymentView(payment) };
    await completeIdempotencyKey(tx, scope, lease, response, id);
    return { response };
  }

  /**
   * Step 2: opens the provider session of a payment that may now be paid, unless it has one. Keyed by our
   * payment id, so two callers racing (a resumed checkout, a retried verification) get the same session.
   * The session is stored unless the payment was canceled meanwhile (the expiry sweep), in which case the
   * session just opened is closed again; money paid on it anyway is held for a person (paid_after_cancel).
   */
  async function ensureSession(payment: Payment): Promise<Payment> {
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
    // A payer as quick as the provider's webhook may have paid already: the session is stored all the same.
    const row = await deps.db.one<PaymentRow>(
      `UPDATE payments SET provider_ref = $2, next_action = $3, updated_at = now()
        WHERE id = $1 AND provider_ref IS NULL AND status NOT IN ('canceled', 'blocked') RETURNING ${PAYMENT_COLUMNS}`,
      [payment.id, session.providerRef, JSON.stringify(session.nextAction)],
    );
    if (row) return toPayment(row);
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
  async function openSession(payment: Payment): Promise<Payment> {
    if (payment.status !== 'requires_payment') return payment;
    if (!payment.providerRef) await deps.mayReachProvider?.(payment.userHash, payment.provider);
    try {
      return await ensureSession(payment);
    } catch (error) {
      if (!(error instanceof ProviderError) || error.kind !== 'terminal') throw error;
      await deps.db.transaction((tx) => recordFacts(tx, payment.id, [ownFact('failed', `${payment.provider}:session_refused`)]));
      throw providerRefused(payment.provider);
    }
  }

  /** Steps 2 and 3 for a checkout, under a renewed lease. Undefined when another request took the key over meanwhile. */
  async function openAndAnswer(payment: Payment, scope: IdempotencyScope, lease: Lease): Promise<StoredResponse | undefined> {
    return whileLeased(deps.db, scope, lease, async () => {
      let response: StoredResponse;
      try {
        response = { status: 201, body: paymentView(await openSession(payment)) };
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'provider_error')) throw error;
        response = errorResponse(error, payment.id);
      }
      const stored = await deps.db.transaction((tx) => completeIdempotencyKey(tx, scope, lease, response, payment.id));
      return stored ? response : undefined;
    });
  }

  async function checkout(command: CheckoutCommand): Promise<StoredResponse> {
    const scope = idempotencyScope(deps.vault.blindIndex, deps.vault.userHash(command.user.id), command.idempotencyKey, command.request);
    await deps.mayReachProvider?.(scope.userHash, command.request.provider);
    const deadline = Date.now() + deps.inProgressWaitMs;
    for (;;) {
      const step = await deps.db.transaction(async (tx) => {
        const claim = await claimIdempotencyKey(tx, scope, deps.idempotencyTtlHours);
        if (claim.state === 'claimed') return createPayment(tx, command, scope, claim.lease);
        if (claim.state === 'resumed') return { payment: (await findPayment(tx, claim.paymentId))!, lease: claim.lease };
        return claim;
      });
      if ('response' in step && step.response) return step.response;
      if ('payment' in step && step.payment) {
        const answer = await openAndAnswer(step.payment, scope, step.lease);
        if (answer) return answer;
        continue; // another request took the key over: its answer is the one to give
      }
      if (Date.now() > deadline) throw keyInUse();
      await sleep(POLL_MS);
    }
  }

  return { checkout, openSession };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
