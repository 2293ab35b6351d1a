import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';

export interface AppTokenClaims {
  sub: string;
  minor?: boolean;
  guardianConsent?: boolean;
  country?: string;
  /** Extra claims, e.g. `amr` and `auth_time` for a step-up token. */
  extra?: Record<string, unknown>;
  expiresInSeconds?: number;
}

/**
 * Signs app tokens with the embedded identity's key: what `kalos token` prints and what tests use.
 * A production deployment verifies tokens from the app's own identity service instead.
 */
export async function signAppToken(
  issuer: { privateKeyPem: string; iss: string; aud: string },
  claims: AppTokenClaims,
): Promise<string> {
  const payload: Record<string, unknown> = { ...claims.extra };
  if (claims.minor !== undefined) payload.minor = claims.minor;
  if (claims.guardianConsent !== undefined) payload.guardian_consent = claims.guardianConsent;
  if (claims.country) payload.country = claims.country;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(issuer.iss)
    .setAudience(issuer.aud)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresInSeconds ?? 3600}s`)
    .sign(createPrivateKey(issuer.privateKeyPem));
}
