import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { createProviderRegistry } from '../../src/providers/registry';
import { ApiError } from '../../src/shared/errors';
import { FAKE_STRIPE_KEYS } from '../fakes/stripe-api';

const stripeEnv = {
  STRIPE_SECRET_KEY: FAKE_STRIPE_KEYS.secretKey,
  STRIPE_PUBLISHABLE_KEY: FAKE_STRIPE_KEYS.publishableKey,
  STRIPE_WEBHOOK_SECRET: FAKE_STRIPE_KEYS.webhookSecret,
};

function configIssues(env: Record<string, string>): string[] {
  try {
    loadConfig({ NODE_ENV: 'test', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.setting}: ${issue.message}`);
    throw error;
  }
  return [];
}

describe('Stripe settings', () => {
  test('the three keys switch the provider on; without them a Stripe checkout is a clear 400', () => {
    const withKeys = createProviderRegistry(loadConfig({ NODE_ENV: 'test', ...stripeEnv }), {});
    expect(withKeys.names).toContain('stripe');

    const without = createProviderRegistry(loadConfig({ NODE_ENV: 'test' }), {});
    expect(without.names).not.toContain('stripe');
    const refusal = (() => {
      try {
        without.forCheckout('stripe');
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal).toMatchObject({ status: 400, code: 'parameter_invalid', param: 'provider' });
  });

  test('one key without the others names each missing variable', () => {
    expect(configIssues({ STRIPE_SECRET_KEY: stripeEnv.STRIPE_SECRET_KEY })).toEqual([
      'STRIPE_PUBLISHABLE_KEY: is required because STRIPE_SECRET_KEY is set',
      'STRIPE_WEBHOOK_SECRET: is required because STRIPE_SECRET_KEY is set',
    ]);
  });

  test('keys of the wrong kind or from different modes are refused at start-up', () => {
    expect(configIssues({ ...stripeEnv, STRIPE_SECRET_KEY: stripeEnv.STRIPE_PUBLISHABLE_KEY })).toEqual([
      'STRIPE_SECRET_KEY: must look like sk_test_… or sk_live_… (a restricted rk_… key works too)',
    ]);
    expect(configIssues({ ...stripeEnv, STRIPE_SECRET_KEY: 'sk_live_kalosFakeSecretKey0001' })).toEqual([
      'STRIPE_PUBLISHABLE_KEY: must be from the same mode (test or live) as STRIPE_SECRET_KEY',
    ]);
    expect(configIssues({ ...stripeEnv, STRIPE_API_BASE: 'ftp://127.0.0.1:12111' })).toEqual([
      'STRIPE_API_BASE: must be a URL starting with http:// or https://',
    ]);
  });

  test('the secret key and webhook secret print as a mask when the configuration is logged', () => {
    const config = loadConfig({ NODE_ENV: 'test', ...stripeEnv });
    const printed = `${JSON.stringify(config)} ${inspect(config, { depth: 5 })}`;
    expect(printed).not.toContain(FAKE_STRIPE_KEYS.secretKey);
    expect(printed).not.toContain(FAKE_STRIPE_KEYS.webhookSecret);
    expect(printed).toContain(FAKE_STRIPE_KEYS.publishableKey);
  });
});
