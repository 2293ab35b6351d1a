import { createPublicKey, KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, JWTPayload, jwtVerify, JWTVerifyGetKey } from 'jose';
import { authenticationFailed } from '../shared/errors';

/** The caller of an app endpoint, as the app's identity service vouches for them. */
export interface AppUser {
  id: string;
  minor: boolean;
  guardianConsent: boolean;
  country?: string;
}

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  jwksUrl?: string;
  /** A PEM public key (SPKI) or a single JWK in JSON. */
  publicKey?: string;
}

const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

function importPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  return trimmed.startsWith('{') ? createPublicKey({ key: JSON.parse(trimmed), format: 'jwk' }) : createPublicKey(trimmed);
}

/**
 * Verifies app JWTs (signature, iss, aud, exp, nbf) against the identity service's JWKS or a configured
 * public key. The same verifier checks step-up tokens, which come from the same issuer.
 */
export class TokenVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksUrl) this.key = createRemoteJWKSet(new URL(options.jwksUrl));
    else if (options.publicKey) this.key = importPublicKey(options.publicKey);
    else throw new Error('An app token verifier needs APP_JWKS_URL or APP_JWT_PUBLIC_KEY');
  }

  /** Verifies any token from the app's issuer; returns its claims. Throws 401 ApiErrors with stable codes. */
  async verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.key as KeyObject, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ALGORITHMS,
        clockTolerance: 5,
        requiredClaims: ['sub', 'exp'],
      });
      return payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw authenticationFailed('token_expired', 'The access token has expired.');
      throw authenticationFailed('token_invalid', 'The access token is not valid.');
    }
  }

  async verifyAppUser(token: string): Promise<AppUser> {
    const claims = await this.verify(token);
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 255) {
      throw authenticationFailed('token_invalid', 'The access token has no usable subject.');
    }
    const country = typeof claims.country === 'string' && /^[A-Z]{2}$/.test(claims.country) ? claims.country : undefined;
    return { id: claims.sub, minor: claims.minor === true, guardianConsent: claims.guardian_consent === true, country };
  }
}
