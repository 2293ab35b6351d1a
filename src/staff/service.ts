import type { Logger } from 'pino';
import { AUDIT_CHAIN_KEY_LABEL, AUDIT_IP_KEY_LABEL, AuditTrail, createAuditTrail } from '../audit/trail';
import { ConfigError } from '../config/settings';
import type { Database } from '../db/database';
import type { BlindIndex } from '../privacy/keyring';
import { StaffVerifier } from './auth';
import { loadOrCreateStaffKey, StaffSigningKey } from './keys';
import { PSEUDONYM_KEY_LABEL, Pseudonyms } from './masking';
import { auditChainKey, StaffSettings, usesEmbeddedStaffIssuer } from './settings';

export interface StaffOps {
  settings: StaffSettings;
  verifier: StaffVerifier;
  audit: AuditTrail;
  pseudonyms: Pseudonyms;
  /** The embedded staff issuer's key pair (what `npm run token -- --ops` signs with); undefined with a real staff IdP. */
  embeddedIssuer?: StaffSigningKey;
}

/**
 * The embedded staff issuer is a convenience for laptops, refused where generated keys are. Read at start-up
 * before anything connects, so a missing setting stops the start with one line.
 */
export function embeddedStaffIssuer(settings: StaffSettings, options: { dataDir: string; generatedKeysAllowed: boolean }): StaffSigningKey | undefined {
  if (!usesEmbeddedStaffIssuer(settings)) return undefined;
  if (!options.generatedKeysAllowed) {
    throw new ConfigError([{ setting: 'STAFF_AUTH_JWKS_URL', message: 'or STAFF_AUTH_PUBLIC_KEY is required in production (or set ALLOW_GENERATED_KEYS=true)' }]);
  }
  return loadOrCreateStaffKey(options.dataDir);
}

/** The staff side of one gateway instance. Its keys are derived from the blind index key: one secret less to manage. */
export function createStaffOps(
  settings: StaffSettings,
  deps: { db: Database; blindIndex: BlindIndex; embeddedIssuer?: StaffSigningKey; logger: Logger },
): StaffOps {
  const { embeddedIssuer } = deps;
  return {
    settings,
    verifier: new StaffVerifier(settings, embeddedIssuer?.publicKeyPem, deps.logger),
    audit: createAuditTrail(deps.db, {
      chainKey: auditChainKey(settings, deps.blindIndex, AUDIT_CHAIN_KEY_LABEL),
      ipKey: deps.blindIndex.deriveKey(AUDIT_IP_KEY_LABEL),
    }),
    pseudonyms: new Pseudonyms(deps.blindIndex.deriveKey(PSEUDONYM_KEY_LABEL)),
    embeddedIssuer,
  };
}
