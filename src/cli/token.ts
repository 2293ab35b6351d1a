import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { signAppToken } from '../auth/embedded-issuer';
import { loadOrCreateGeneratedSecrets } from '../config/key-material';
import { signStaffToken, STAFF_ROLES } from '../staff/auth';
import { loadOrCreateStaffKey } from '../staff/keys';
import { usesEmbeddedStaffIssuer } from '../staff/settings';
import type { Config } from '../config';

export const TOKEN_USAGE = [
  'usage: kalos token --sub <user id> [--minor] [--guardian-consent] [--country CN] [--step-up] [--expires-in SECONDS]',
  '       kalos token --ops <role[,role…]> --sub <staff id> [--expires-in SECONDS]   roles: viewer reviewer refunds risk_admin auditor',
].join('\n');

/**
 * An app token signed by the embedded identity (laptop and test instances only: a gateway that trusts an
 * identity service refuses). `--step-up` mints what the identity service gives after a fresh MFA sign-in
 * (amr mfa, auth_time now, a single-use jti), for POST /v1/checkouts/{id}/verify.
 */
export async function runTokenCommand(args: string[], config: Config): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: 'string' },
      minor: { type: 'boolean', default: false },
      'guardian-consent': { type: 'boolean', default: false },
      country: { type: 'string' },
      'expires-in': { type: 'string', default: '3600' },
      'step-up': { type: 'boolean', default: false },
      ops: { type: 'string' },
    },
  });
  if (!values.sub) throw new Error(TOKEN_USAGE);
  if (values.ops !== undefined) return mintStaffToken(config, values.sub, values.ops, Number(values['expires-in']));
  if (config.auth.jwksUrl || config.auth.publicKey) throw new Error('This gateway trusts an external identity service; ask it for tokens.');
  const secrets = loadOrCreateGeneratedSecrets(config.dataDir);
  return signAppToken(
    { privateKeyPem: secrets.jwtPrivateKeyPem, iss: config.auth.issuer, aud: config.auth.audience },
    {
      sub: values.sub,
      minor: values.minor || undefined,
      guardianConsent: values['guardian-consent'] || undefined,
      country: values.country,
      expiresInSeconds: Number(values['expires-in']),
      extra: values['step-up'] ? { amr: ['mfa'], auth_time: Math.floor(Date.now() / 1000), jti: randomUUID() } : undefined,
    },
  );
}

/** `--ops reviewer`: a staff token from the embedded staff issuer, for the ops API and the console at /ops/. */
async function mintStaffToken(config: Config, sub: string, rolesText: string, expiresInSeconds: number) {
  if (!usesEmbeddedStaffIssuer(config.staff)) throw new Error('This gateway trusts a staff identity provider; ask it for staff tokens.');
  const roles = rolesText.split(',').map((role) => role.trim());
  const unknown = roles.filter((role) => !(STAFF_ROLES as readonly string[]).includes(role));
  if (unknown.length > 0) throw new Error(`unknown role ${unknown.join(', ')}\n${TOKEN_USAGE}`);
  const key = loadOrCreateStaffKey(config.dataDir);
  return signStaffToken({ privateKeyPem: key.privateKeyPem, iss: config.staff.issuer, aud: config.staff.audience }, { sub, roles, expiresInSeconds });
}
