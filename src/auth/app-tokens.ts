import { createHash, createPublicKey, JsonWebKey, KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, JWTPayload, jwtVerify, JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import { ApiError, authenticationFailed } from '../shared/errors';

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
  /** How long one fetch of the JWKS may take before app calls answer 503 rather than wait on. */
  jwksTimeoutMs?: number;
  /** A PEM public key (SPKI) or a single JWK in JSON. */
  publicKey?: string;
  /** Where an unreachable identity service is reported; the callers only see a 503. */
  logger?: Pick<Logger, 'warn'>;
}

const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];
/** Verified tokens remembered at most (a full cache starts afresh: memory stays bounded, whoever sends tokens). */
const VERIFIED_CACHE_MAX = 50_000;
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;

/**
 * Reads APP_JWT_PUBLIC_KEY: an SPKI PEM or one public JWK. Private keys are refused although a public key
 * could be derived from them: the gateway only verifies, and a signing key has no business in its settings.
 */
export function importPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JsonWebKey;
    if (jwk.d !== undefined) throw new Error('a private JWK is not a public key');
    return createPublicKey({ key: jwk, format: 'jwk' });
  }
  if (trimmed.includes('PRIVATE KEY-----')) throw new Error('a private key is not a public key');
  return createPublicKey(trimmed);
}

/**
 * The remote key set fails in two ways: the token asks for a key or algorithm the set lacks (the token's
 * fault), or the identity service did not answer usefully: no connection, a timeout, a non-200 reply, a body
 * that is not a key set. The second kind says nothing about the token, so it must not log the user out.
 */
function isIdentityServiceFault(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true; // fetch itself failed: refused, reset, DNS
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === errors.JOSEError.code;
}

const identityUnavailable = (cause: unknown) =>
  new ApiError(503, 'api_error', 'identity_unavailable', 'The access token could not be checked because the identity service is unreachable. Retry shortly.', {
    headers: { 'Retry-After': '5' },
    cause,
  });

/**
 * Verifies app JWTs (signature, iss, aud, exp, nbf) against the identity service's JWKS or a configured
 * public key. The same verifier checks step-up tokens, which come from the same issuer.
 */
export class TokenVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;
  /**
   * Tokens already verified, by SHA-256 of the token, until their `exp`: an app sends the same token with
   * every call for its lifetime, and checking its signature again each time was most of a request's CPU.
   * A token differing by one byte hashes differently, so it is verified in full.
   */
  private readonly verified = new Map<string, { payload: JWTPayload; until: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.jwksUrl) this.key = this.remoteKeySet(options.jwksUrl);
    else if (options.publicKey) this.key = importPublicKey(options.publicKey);
    else throw new Error('An app token verifier needs APP_JWKS_URL or APP_JWT_PUBLIC_KEY');
  }

  private remoteKeySet(url: string): JWTVerifyGetKey {
    const keySet = createRemoteJWKSet(new URL(url), { timeoutDuration: this.options.jwksTimeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS });
    return async (header, token) => {
      try {
        return await keySet(header, token);
      } catch (error) {
        if (!isIdentityServiceFault(error)) throw error;
        this.options.logger?.warn({ err: error }, 'identity service JWKS unreachable: app calls answer 503 identity_unavailable');
        throw identityUnavailable(error);
      }
    };
  }

  /**
   * Verifies any token from the app's issuer; returns its claims. Throws 401 ApiErrors with stable codes,
   * or 503 `identity_unavailable` when the identity service's keys cannot be fetched.
   */
  async verify(token: string): Promise<JWTPayload> {
    const id = createHash('sha256').update(token).digest('base64url');
    const known = this.verified.get(id);
    if (known && known.until > Date.now()) return known.payload;
    this.verified.delete(id);
    const payload = await this.verifySignature(token);
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
    this.verified.set(id, { payload, until: payload.exp! * 1000 });
    return payload;
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
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
      if (error instanceof ApiError) throw error;
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
