import type { RiskAssessment } from '../risk/types';
import { permissionDenied } from '../shared/errors';

/** The token says a minor is paying and no guardian has consented. */
export const isUnconsentedMinor = (claims: { minor: boolean; guardianConsent: boolean }) => claims.minor && !claims.guardianConsent;

const guardianConsentRequired = () =>
  permissionDenied('guardian_consent_required', 'A guardian must consent before this account can make payments.');

/**
 * Data of a minor collected without a guardian's consent is not kept: a checkout the risk engine refused
 * for that reason is refused before the payment is stored, and the refusal rolls back the checkout's
 * transaction (Idempotency-Key claim included). What remains are the velocity counters, keyed hashes that
 * expire within 24 h, so repeated attempts still count; the engine does not keep their location.
 */
export function refuseUnconsentedMinor(assessment: RiskAssessment): void {
  if (assessment.blockCode === 'guardian_consent_required') throw guardianConsentRequired();
}
