import type { Logger } from 'pino';
import { TokenVerifier } from '../auth/app-tokens';
import { signAppToken } from '../auth/embedded-issuer';
import { authenticationFailed, permissionDenied } from '../shared/errors';
import type { StaffSettings } from './settings';

/**
 * Staff roles, least privilege: each ops route names the roles that may call it.
 * viewer: search and read masked data; reviewer: decide held payments; refunds: refunds and after-sale
 * cases; risk_admin: blocklists and rules; auditor: the audit log.
 */
export const STAFF_ROLES = ['viewer', 'reviewer', 'refunds', 'risk_admin', 'auditor'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export interface StaffMember {
  id: string;
  roles: StaffRole[];
}

const isRole = (value: unknown): value is StaffRole => typeof value === 'string' && (STAFF_ROLES as readonly string[]).includes(value);

/**
 * Verifies staff tokens: the same checks as app tokens (signature, iss, aud, exp, nbf; JWKS outage → 503),
 * against the staff identity provider's settings, plus a `roles` claim. Unknown roles are ignored, so a
 * provider that also issues roles for other systems does not lock staff out.
 */
export class StaffVerifier {
  private readonly tokens: TokenVerifier;

  constructor(settings: StaffSettings, publicKeyPem: string | undefined, logger?: Pick<Logger, 'warn'>) {
    this.tokens = new TokenVerifier({
      issuer: settings.issuer,
      audience: settings.audience,
      jwksUrl: settings.jwksUrl,
      jwksTimeoutMs: settings.jwksTimeoutMs,
      publicKey: settings.publicKey ?? publicKeyPem,
      logger,
    });
  }

  async verifyStaff(token: string): Promise<StaffMember> {
    const claims = await this.tokens.verify(token);
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 255) {
      throw authenticationFailed('token_invalid', 'The staff token has no usable subject.');
    }
    if (!Array.isArray(claims.roles)) throw authenticationFailed('token_invalid', 'The staff token has no roles claim.');
    return { id: claims.sub, roles: claims.roles.filter(isRole) };
  }
}

export function requireRole(staff: StaffMember, allowed: readonly StaffRole[]): void {
  if (!staff.roles.some((role) => allowed.includes(role))) {
    throw permissionDenied('insufficient_role', `This needs one of the roles: ${allowed.join(', ')}.`);
  }
}

/** What `npm run token -- --ops <role>` and the tests sign with the embedded staff issuer's key. */
export const signStaffToken = (
  issuer: { privateKeyPem: string; iss: string; aud: string },
  claims: { sub: string; roles: string[]; expiresInSeconds?: number },
) => signAppToken(issuer, { sub: claims.sub, extra: { roles: claims.roles }, expiresInSeconds: claims.expiresInSeconds ?? 8 * 3600 });
