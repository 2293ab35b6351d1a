import { parseArgs } from 'node:util';
import { signAppToken } from '../auth/embedded-issuer';
import { loadConfig } from '../config';
import { loadOrCreateGeneratedSecrets } from '../config/key-material';

/** `npm run token -- --sub alice [--minor] [--guardian-consent] [--country CN]`: an app token for the embedded instance. */
async function main() {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      minor: { type: 'boolean', default: false },
      'guardian-consent': { type: 'boolean', default: false },
      country: { type: 'string' },
      'expires-in': { type: 'string', default: '3600' },
    },
  });
  if (!values.sub) throw new Error('usage: npm run token -- --sub <user id> [--minor] [--guardian-consent] [--country CN]');
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
    },
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error) => {
  console.error((error as Error).message);
  process.exit(1);
});
