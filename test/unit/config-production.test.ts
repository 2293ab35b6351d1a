import { loadConfig } from '../../src/config';
import { configErrorFor, settingsNamed } from './config-issues';

const PRODUCTION_READY = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://app@db.internal:5432/pay',
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
  APP_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
  APP_JWT_ISSUER: 'https://id.example.com/',
};

describe('loadConfig in production', () => {
  test('without database, keys or identity service each missing setting gets one clear line', () => {
    const error = configErrorFor({ NODE_ENV: 'production' });

    expect(error.issues.map((issue) => issue.setting)).toEqual(['DATABASE_URL', 'ENCRYPTION_KEYS', 'BLIND_INDEX_KEY', 'APP_JWKS_URL']);
    const lines = error.message.split('\n').slice(1);
    expect(lines).toEqual([
      '  - DATABASE_URL: is required in production (or set ALLOW_EMBEDDED_DATABASE=true)',
      '  - ENCRYPTION_KEYS: is required in production (or set ALLOW_GENERATED_KEYS=true)',
      '  - BLIND_INDEX_KEY: is required in production (or set ALLOW_GENERATED_KEYS=true)',
      '  - APP_JWKS_URL: or APP_JWT_PUBLIC_KEY is required in production (or set ALLOW_GENERATED_KEYS=true)',
    ]);
  });

  test('ALLOW_EMBEDDED_DATABASE=true lifts only the database requirement', () => {
    expect(settingsNamed({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true' })).toEqual([
      'ENCRYPTION_KEYS',
      'BLIND_INDEX_KEY',
      'APP_JWKS_URL',
    ]);
  });

  test('ALLOW_GENERATED_KEYS=true lifts only the key and identity requirements', () => {
    expect(settingsNamed({ NODE_ENV: 'production', ALLOW_GENERATED_KEYS: 'true' })).toEqual(['DATABASE_URL']);
  });

  test('with both escape hatches it starts with generated keys allowed and the sandbox off', () => {
    const config = loadConfig({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', ALLOW_GENERATED_KEYS: 'true' });

    expect(config.production).toBe(true);
    expect(config.database.url).toBeUndefined();
    expect(config.keys.generatedAllowed).toBe(true);
    expect(config.sandbox.enabled).toBe(false);
  });

  test('a fully configured production defaults the sandbox off, listens on all interfaces and forbids generated keys', () => {
    const config = loadConfig(PRODUCTION_READY);

    expect(config.sandbox.enabled).toBe(false);
    expect(config.host).toBe('0.0.0.0');
    expect(config.keys.generatedAllowed).toBe(false);
  });

  test('a configured public key stands in for the JWKS URL', () => {
    const { APP_JWKS_URL: _unused, ...withoutJwks } = PRODUCTION_READY;

    expect(loadConfig({ ...withoutJwks, APP_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\n…' }).auth.publicKey).toBeDefined();
  });

  test('switching the sandbox on in production requires its webhook secret', () => {
    expect(settingsNamed({ ...PRODUCTION_READY, SANDBOX_ENABLED: 'true' })).toEqual(['SANDBOX_WEBHOOK_SECRET']);
    expect(loadConfig({ ...PRODUCTION_READY, SANDBOX_ENABLED: 'true', SANDBOX_WEBHOOK_SECRET: 'a-long-enough-secret' }).sandbox.enabled).toBe(true);
  });

  test('tokens from an identity service require their issuer', () => {
    const { APP_JWT_ISSUER: _unused, ...withoutIssuer } = PRODUCTION_READY;

    expect(settingsNamed(withoutIssuer)).toEqual(['APP_JWT_ISSUER']);
  });

  test('the production checks are reported together with malformed settings', () => {
    expect(settingsNamed({ NODE_ENV: 'production', PORT: 'abc', ALLOW_GENERATED_KEYS: 'true' }).sort()).toEqual(['DATABASE_URL', 'PORT']);
  });
});
