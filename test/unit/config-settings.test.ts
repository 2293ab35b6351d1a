import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { configErrorFor, settingsNamed } from './config-issues';

const VALID_STRIPE = {
  STRIPE_SECRET_KEY: 'sk_test_51Habc',
  STRIPE_PUBLISHABLE_KEY: 'pk_test_51Habc',
  STRIPE_WEBHOOK_SECRET: 'whsec_abcdefgh12',
};

describe('loadConfig on a laptop', () => {
  test('an empty environment starts on the embedded database with the sandbox on, listening on loopback', () => {
    const config = loadConfig({});

    expect(config.env).toBe('development');
    expect(config.production).toBe(false);
    expect(config.database.url).toBeUndefined();
    expect(config.sandbox.enabled).toBe(true);
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(config.publicBaseUrl).toBe('http://localhost:8080');
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.keys.generatedAllowed).toBe(true);
    expect(config.stripe.enabled).toBe(false);
    expect(config.alipay.enabled).toBe(false);
  });

  test('empty strings count as unset rather than as malformed values', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', SANDBOX_ENABLED: '', ENCRYPTION_KEYS: '  ' });

    expect(config.port).toBe(8080);
    expect(config.database.url).toBeUndefined();
    expect(config.sandbox.enabled).toBe(true);
    expect(config.keys.encryptionKeys).toBeUndefined();
  });

  test('well-formed settings are read into typed values', () => {
    const config = loadConfig({
      PORT: '0',
      DATABASE_URL: 'postgres://app@db.internal:5432/pay',
      REDIS_URL: 'rediss://cache.internal:6380',
      SANDBOX_ENABLED: 'off',
      LOG_LEVEL: 'warn',
      PUBLIC_BASE_URL: 'https://pay.example.com/',
      ...VALID_STRIPE,
    });

    expect(config.port).toBe(0);
    expect(config.database.url).toBe('postgres://app@db.internal:5432/pay');
    expect(config.redisUrl).toBe('rediss://cache.internal:6380');
    expect(config.sandbox.enabled).toBe(false);
    expect(config.logLevel).toBe('warn');
    expect(config.publicBaseUrl).toBe('https://pay.example.com');
    expect(config.stripe.enabled).toBe(true);
  });
});

describe('loadConfig refuses a malformed setting with one issue naming its variable', () => {
  test.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['REDIS_URL', { REDIS_URL: 'http://x' }],
    ['SANDBOX_ENABLED', { SANDBOX_ENABLED: 'maybe' }],
    ['SANDBOX_WEBHOOK_SECRET', { SANDBOX_WEBHOOK_SECRET: 'short-secret' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['STRIPE_SECRET_KEY', { ...VALID_STRIPE, STRIPE_SECRET_KEY: 'sk_test_51H-abc' }],
    ['STRIPE_WEBHOOK_SECRET', { ...VALID_STRIPE, STRIPE_WEBHOOK_SECRET: 'whsec_short' }],
    ['STRIPE_PUBLISHABLE_KEY', { ...VALID_STRIPE, STRIPE_PUBLISHABLE_KEY: 'pk_live_51Habc' }],
  ])('%s (%j)', (variable, env) => {
    const error = configErrorFor(env);

    expect(error.issues).toHaveLength(1);
    expect(error.issues[0].setting).toBe(variable);
    expect(error.message).toContain(`- ${variable}: `);
  });

  test('a Stripe secret key of an unknown mode is one issue, without blaming the publishable key', () => {
    expect(settingsNamed({ ...VALID_STRIPE, STRIPE_SECRET_KEY: 'sk_oops_51Habc' })).toEqual(['STRIPE_SECRET_KEY']);
  });

  test('partially set Stripe keys name each missing key', () => {
    expect(settingsNamed({ STRIPE_SECRET_KEY: VALID_STRIPE.STRIPE_SECRET_KEY }).sort()).toEqual([
      'STRIPE_PUBLISHABLE_KEY',
      'STRIPE_WEBHOOK_SECRET',
    ]);
    expect(
      settingsNamed({ STRIPE_PUBLISHABLE_KEY: VALID_STRIPE.STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET: VALID_STRIPE.STRIPE_WEBHOOK_SECRET }),
    ).toEqual(['STRIPE_SECRET_KEY']);
  });

  test('several problems are reported together, one line each', () => {
    const error = configErrorFor({ PORT: 'abc', LOG_LEVEL: 'loud', REDIS_URL: 'http://x', SANDBOX_ENABLED: 'maybe' });

    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues.map((issue) => issue.setting).sort()).toEqual(['LOG_LEVEL', 'PORT', 'REDIS_URL', 'SANDBOX_ENABLED']);
    expect(error.message.split('\n')).toHaveLength(1 + 4);
  });
});

describe('APP_JWT_PUBLIC_KEY', () => {
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = keyPair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const ISSUER = { APP_JWT_ISSUER: 'https://id.example.com/' };

  test.each([
    ['an SPKI PEM', publicPem],
    ['a public JWK', JSON.stringify(keyPair.publicKey.export({ format: 'jwk' }))],
  ])('accepts %s', (_case, key) => {
    expect(loadConfig({ ...ISSUER, APP_JWT_PUBLIC_KEY: key }).auth.publicKey).toBe(key);
  });

  test.each([
    ['a truncated PEM', publicPem.slice(0, 80)],
    ['a PEM with a corrupted body', publicPem.replace(/[A-Za-z0-9+/]{20}/, 'Corrupted-Body-Here!')],
    ['a private key PEM', keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['a private JWK', JSON.stringify(keyPair.privateKey.export({ format: 'jwk' }))],
    ['a symmetric JWK', JSON.stringify({ kty: 'oct', k: 'c2VjcmV0LXNoYXJlZC1rZXktdmFsdWU' })],
    ['JSON that is not a JWK', '{"kty": "EC", "crv": "P-256"'],
    ['a bare base64 string', 'bm90LWEta2V5LWF0LWFsbA=='],
  ])('refuses %s with one line naming it, without echoing the value', (_case, key) => {
    const error = configErrorFor({ ...ISSUER, APP_JWT_PUBLIC_KEY: key });

    expect(error.message.split('\n').slice(1)).toEqual(['  - APP_JWT_PUBLIC_KEY: must be an SPKI PEM public key or a JWK']);
    for (const line of key.split('\n').filter((line) => line.length > 8)) expect(JSON.stringify(error.issues)).not.toContain(line);
  });
});

describe('APP_JWKS_TIMEOUT_MS', () => {
  test('defaults to 5 seconds and is read in milliseconds', () => {
    expect(loadConfig({}).auth.jwksTimeoutMs).toBe(5000);
    expect(loadConfig({ APP_JWKS_TIMEOUT_MS: '1500' }).auth.jwksTimeoutMs).toBe(1500);
  });

  test.each(['0', '99', '60001', 'soon'])('refuses %s', (value) => {
    expect(settingsNamed({ APP_JWKS_TIMEOUT_MS: value })).toEqual(['APP_JWKS_TIMEOUT_MS']);
  });
});

describe('configuration errors never repeat a secret value', () => {
  const secrets = {
    SANDBOX_WEBHOOK_SECRET: 'tiny-Secr3t',
    DATABASE_URL: 'mysql://app:hunter2-db-password@db.internal/pay',
    REDIS_URL: 'http://:redis-password-77@cache.internal',
    STRIPE_SECRET_KEY: 'sk_test_TopSecret-Value42',
    STRIPE_WEBHOOK_SECRET: 'whsec_no',
    STRIPE_PUBLISHABLE_KEY: 'pk_test_public',
  };

  test('neither the message nor the issues contain any of the given values', () => {
    const error = configErrorFor(secrets);
    const everything = `${error.message}\n${JSON.stringify(error.issues)}`;

    expect(error.issues.map((issue) => issue.setting).sort()).toEqual([
      'DATABASE_URL',
      'REDIS_URL',
      'SANDBOX_WEBHOOK_SECRET',
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
    ]);
    for (const fragment of ['tiny-Secr3t', 'hunter2-db-password', 'redis-password-77', 'TopSecret-Value42', 'whsec_no']) {
      expect(everything).not.toContain(fragment);
    }
  });
});
