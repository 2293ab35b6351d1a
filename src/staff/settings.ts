import { z } from 'zod';
import { DEFAULT_JWKS_TIMEOUT_MS, importPublicKey } from '../auth/app-tokens';
import { envInt, envString, envUrl } from '../config/env';

const publicKeyText = () =>
  envString().refine(
    (value) => {
      if (value === undefined) return true;
      try {
        importPublicKey(value);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be an SPKI PEM public key or a JWK' },
  );

/**
 * Staff sign in through the staff identity provider, which is not the app's: its own issuer, audience and
 * keys, so no app token can ever open an ops route. Unset keys mean the embedded staff issuer (a key pair
 * generated into DATA_DIR, minted by `npm run token -- --ops <role>`).
 */
export const staffSettingsSchema = z
  .object({
    STAFF_AUTH_ISSUER: envString(),
    STAFF_AUTH_AUDIENCE: envString(),
    STAFF_AUTH_JWKS_URL: envUrl(['http', 'https']),
    STAFF_AUTH_PUBLIC_KEY: publicKeyText(),
    STAFF_AUTH_JWKS_TIMEOUT_MS: envInt(DEFAULT_JWKS_TIMEOUT_MS, 100, 60_000),
    /**
     * The audit chain's key (base64, ≥ 32 bytes). Unset, it is derived from BLIND_INDEX_KEY; set it in
     * production, so that rotating the blind-index key does not leave the existing chain unverifiable.
     */
    STAFF_AUDIT_CHAIN_KEY: envString().refine((value) => value === undefined || Buffer.from(value, 'base64').length >= 32, {
      message: 'must be base64 of at least 32 bytes',
    }),
    /** PCI DSS 10.5.1 asks for at least 12 months of audit trail; the database refuses to prune younger rows. */
    STAFF_AUDIT_RETENTION_MONTHS: envInt(12, 12, 120),
  })
  .transform((env) => ({
    issuer: env.STAFF_AUTH_ISSUER ?? 'kalos-pay-staff-embedded',
    audience: env.STAFF_AUTH_AUDIENCE ?? 'kalos-pay-ops',
    jwksUrl: env.STAFF_AUTH_JWKS_URL,
    publicKey: env.STAFF_AUTH_PUBLIC_KEY,
    jwksTimeoutMs: env.STAFF_AUTH_JWKS_TIMEOUT_MS,
    auditRetentionMonths: env.STAFF_AUDIT_RETENTION_MONTHS,
    auditChainKey: env.STAFF_AUDIT_CHAIN_KEY === undefined ? undefined : Buffer.from(env.STAFF_AUDIT_CHAIN_KEY, 'base64'),
  }));

export type StaffSettings = z.infer<typeof staffSettingsSchema>;

export const usesEmbeddedStaffIssuer = (settings: StaffSettings) => !settings.jwksUrl && !settings.publicKey;

/**
 * One identity provider may serve both apps and staff, but then its staff tokens must name another
 * audience: with the same issuer and audience, an app token that happens to carry `roles` would open ops routes.
 */
export function staffSettingIssues(staff: StaffSettings | undefined, app: { issuer: string; audience: string } | undefined) {
  if (!staff || !app || staff.issuer !== app.issuer || staff.audience !== app.audience) return [];
  return [{ setting: 'STAFF_AUTH_AUDIENCE', message: 'must differ from APP_JWT_AUDIENCE when both token kinds come from one issuer' }];
}

/** The configured chain key, or the one derived from the blind-index key. */
export const auditChainKey = (settings: StaffSettings, blindIndex: { deriveKey(label: string): Buffer }, label: string) =>
  settings.auditChainKey ?? blindIndex.deriveKey(label);
