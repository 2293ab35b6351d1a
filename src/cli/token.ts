import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { signAppToken } from '../auth/embedded-issuer';
import { loadConfig } from '../config';
import { loadOrCreateGeneratedSecrets } from '../config/key-material';

const USAGE = 'usage: npm run token -- --sub <user id> [--minor] [--guardian-consent] [--country CN] [--step-up] [--expires-in SECONDS]';

/**
 * `npm run token -- --sub alice`: an app token for the embedded instance. `--step-up` mints what the
 * identity service gives after a fresh MFA sign-in (amr mfa, auth_time now, a single-use jti), for
 * POST /v1/checkouts/{id}/verify.
 */
async function main() {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      minor: { type: 'boolean', default: false },
      'guardian-consent': { type: 'boolean', default: false },
      country: { type: 'string' },
      'expires-in': { type: 'string', default: '3600' },
      'step-up': { type: 'boolean', default: false },
    },
  });
  if (!values.sub) throw new Error(USAGE);
  const config = loadConfig();
  if (config.auth.jwksUrl || config.auth.publicKey) throw new Error('This gateway trusts an external identity service; ask it for tokens.');
  const secrets = loadOrCreateGeneratedSecrets(config.dataDir);
  const token = await signAppToken(
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
  process.stdout.write(`${token}\n`);
}

main().catch((error) => {
  console.error((error as Error).message);
  process.exit(1);
});
