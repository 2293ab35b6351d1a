import type { AppUser } from '../auth/app-tokens';
import type { Catalog } from '../catalog/catalog';
import type { Database, Sql } from '../db/database';
import type { PersonalDataVault } from '../privacy/vault';
import type { ProviderRegistry } from '../providers/registry';
import type { PaymentProvider } from '../providers/types';
import type { RiskAssessment, RiskEngine } from '../risk/types';
import { ApiError, invalidRequest, paymentBlocked, permissionDenied } from '../shared/errors';
import { newId } from '../shared/ids';
import { MAX_AMOUNT } from '../shared/money';
import { claimIdempotencyKey, completeIdempotencyKey, StoredResponse } from './idempotency';
import { findPayment, Payment } from './payment';
import { appendHistory } from './state-machine';
import type { PaymentStatus } from './status';
import { paymentView } from './views';
import type { CheckoutRequest } from './schemas';

export interface CheckoutDeps {
  db: Database;
  catalog: Catalog;
  providers: ProviderRegistry;
  vault: PersonalDataVault;
  risk: RiskEngine;
  publicBaseUrl: string;
  idempotencyTtlHours: number;
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

function refusalFor(assessment: RiskAssessment): ApiError {
  return assessment.blockCode === 'guardian_consent_required'
    ? permissionDenied('guardian_consent_required', 'A guardian must consent before this account can make payments.')
    : paymentBlocked();
}

/** The stored answer for this checkout: the payment object, or the refusal when risk blocked it. */
function responseFor(payment: Payment, assessment: RiskAssessment): StoredResponse {
  if (payment.status !== 'blocked') return { status: 201, body: paymentView(payment) };
  const refusal = refusalFor(assessment);
  return { status: refusal.status, body: { error: { type: refusal.type, code: refusal.code, message: refusal.message } } };
}

/**
 * Creates a payment for a catalog item. One transaction holds it all: the idempotency claim, the risk
 * decision and its journal, the encrypted record, the provider session and the stored response. If the
 * provider call fails the whole attempt rolls back and the client can retry the same key safely.
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

  async function insertPayment(tx: Sql, command: CheckoutCommand, fields: {
    id: string; userHash: string; deviceHash: string; status: PaymentStatus; assessment: RiskAssessment;
    item: { sku: string; name: string }; money: { amount: number; currency: string }; captureMethod: 'automatic' | 'manual';
  }) {
    const { request, user, ipAddress } = command;
    const seal = (column: string, value: string) => deps.vault.encrypt(tx, fields.userHash, `payments.${column}`, value);
    await tx.many(
      `INSERT INTO payments (id, user_hash, user_id_enc, device_hash, device_enc, ip_enc, location_enc, sku, item_name, quantity,
         amount, currency, provider, capture_method, status, risk_decision, risk_score)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        fields.id, fields.userHash, await seal('user_id', user.id), fields.deviceHash, await seal('device', JSON.stringify(request.device)),
        await seal('ip', ipAddress), request.location ? await seal('location', JSON.stringify(request.location)) : null,
        fields.item.sku, fields.item.name, request.quantity, fields.money.amount, fields.money.currency, request.provider,
        fields.captureMethod, fields.status, fields.assessment.decision, fields.assessment.score,
      ],
    );
    await appendHistory(tx, fields.id, null, fields.status, `checkout:risk_${fields.assessment.decision}`);
  }

  async function openSession(tx: Sql, provider: PaymentProvider, paymentId: string, input: Omit<Parameters<PaymentProvider['createSession']>[0], 'paymentId' | 'idempotencyKey'>) {
    // Keyed on our payment id: a retry after a rollback gets a new payment and a new session, and no one
    // ever saw the old session's client credentials, so it can never be paid.
    const session = await provider.createSession({ ...input, paymentId, idempotencyKey: `checkout_${paymentId}` });
    await tx.many('UPDATE payments SET provider_ref = $2, next_action = $3 WHERE id = $1', [
      paymentId, session.providerRef, JSON.stringify(session.nextAction),
    ]);
  }

  async function checkout(command: CheckoutCommand): Promise<StoredResponse> {
    const { request, user } = command;
    const provider = deps.providers.forCheckout(request.provider);
    const { item, money } = priceOf(request, provider);
    const userHash = deps.vault.userHash(user.id);
    const scope = { userHash, key: command.idempotencyKey, request };

    return deps.db.transaction(async (tx) => {
      const replay = await claimIdempotencyKey(tx, scope, deps.idempotencyTtlHours);
      if (replay) return replay;

      const id = newId('pay');
      const deviceHash = deps.vault.blindIndex.hash('device', request.device.id);
      const assessment = await deps.risk.assess({
        paymentId: id, userId: user.id, userHash, ipAddress: command.ipAddress, location: request.location,
        device: { ...request.device, osVersion: request.device.os_version, hash: deviceHash },
        claims: { minor: user.minor, guardianConsent: user.guardianConsent, country: user.country },
        money, sku: item.sku, quantity: request.quantity, provider: provider.name, now: new Date(),
      }, tx);
      const status = STATUS_FOR_DECISION[assessment.decision];
      const captureMethod = assessment.decision === 'review' && provider.capabilities.manualCapture ? 'manual' : 'automatic';

      await insertPayment(tx, command, { id, userHash, deviceHash, status, assessment, item, money, captureMethod });
      await deps.risk.record(tx, id, assessment);
      if (status === 'requires_payment') {
        await openSession(tx, provider, id, { money, item: { sku: item.sku, name: item.name, quantity: request.quantity }, captureMethod });
      } else if (status === 'requires_verification') {
        await tx.many('UPDATE payments SET next_action = $2 WHERE id = $1', [
          id, JSON.stringify({ type: 'verify', verify_url: `${deps.publicBaseUrl}/v1/checkouts/${id}/verify` }),
        ]);
      }

      const response = responseFor((await findPayment(tx, id))!, assessment);
      await completeIdempotencyKey(tx, scope, response, id);
      return response;
    });
  }

  return { checkout, openSession };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
