import { generateKeyPairSync } from 'node:crypto';
import { loadConfig, startupWarnings } from '../../src/config';
import { configErrorFor, settingsNamed } from './config-issues';

const PRODUCTION_READY = {
  NODE_ENV: 'production',
  PUBLIC_BASE_URL: 'https://pay.example.com',
  DATABASE_URL: 'postgres://app@db.internal:5432/pay',
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  BLIND_INDEX_KEY: Buffer.alloc(32, 9).toString('base64'),
  APP_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
  APP_JWT_ISSUER: 'https://id.example.com/',
};

describe('loadConfig in production', () => {
  test('without database, keys or identity service each missing setting gets one clear line', () => {
    const error = configErrorFor({ NODE_ENV: 'production' });

    expect(error.issues.map((issue) => issue.setting)).toEqual(['PUBLIC_BASE_URL', 'DATABASE_URL', 'ENCRYPTION_KEYS', 'BLIND_INDEX_KEY', 'APP_JWKS_URL']);
    const lines = error.message.split('\n').slice(1);
    expect(lines).toEqual([
      '  - PUBLIC_BASE_URL: is required in production: the URLs handed to apps are built from it',
      '  - DATABASE_URL: is required in production (or set ALLOW_EMBEDDED_DATABASE=true)',
      '  - ENCRYPTION_KEYS: is required in production (or set ALLOW_GENERATED_KEYS=true)',
      '  - BLIND_INDEX_KEY: is required in production (or set ALLOW_GENERATED_KEYS=true)',
      '  - APP_JWKS_URL: or APP_JWT_PUBLIC_KEY is required in production (or set ALLOW_GENERATED_KEYS=true)',
    ]);
  });

  test('ALLOW_EMBEDDED_DATABASE=true lifts only the database requirement', () => {
    expect(settingsNamed({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true' })).toEqual([
      'PUBLIC_BASE_URL',
      'ENCRYPTION_KEYS',
      'BLIND_INDEX_KEY',
      'APP_JWKS_URL',
    ]);
  });

  test('ALLOW_GENERATED_KEYS=true lifts only the key and identity requirements', () => {
    expect(settingsNamed({ NODE_ENV: 'production', ALLOW_GENERATED_KEYS: 'true' })).toEqual(['PUBLIC_BASE_URL', 'DATABASE_URL']);
  });

  test('with both escape hatches PUBLIC_BASE_URL is still required: apps could not reach a localhost URL', () => {
    expect(settingsNamed({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', ALLOW_GENERATED_KEYS: 'true' })).toEqual(['PUBLIC_BASE_URL']);
  });

  test('with both escape hatches it starts with generated keys allowed and the sandbox off', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://pay.example.com',
      ALLOW_EMBEDDED_DATABASE: 'true',
      ALLOW_GENERATED_KEYS: 'true',
    });

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

    const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

    expect(loadConfig({ ...withoutJwks, APP_JWT_PUBLIC_KEY: publicKey }).auth.publicKey).toBe(publicKey);
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
    expect(settingsNamed({ NODE_ENV: 'production', PORT: 'abc', ALLOW_GENERATED_KEYS: 'true' }).sort()).toEqual([
      'DATABASE_URL',
      'PORT',
      'PUBLIC_BASE_URL',
    ]);
  });
});

describe('start-up warnings', () => {
  test('production without a trusted proxy warns once that every client would share one IP', () => {
    const warnings = startupWarnings(loadConfig(PRODUCTION_READY));

    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^TRUST_PROXY=0 in production: .*per-IP rate limits and risk rules/);
  });

  test('production behind a counted proxy, and any laptop, start without warnings', () => {
    expect(startupWarnings(loadConfig({ ...PRODUCTION_READY, TRUST_PROXY: '1' }))).toEqual([]);
    expect(startupWarnings(loadConfig({}))).toEqual([]);
  });
});
