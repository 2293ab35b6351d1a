import type { Config } from '../config';
import { invalidRequest } from '../shared/errors';
import type { PaymentProvider, ProviderName } from './types';
import { createSandboxProvider } from './sandbox/provider';

/**
 * The provider SDKs are loaded only for a provider that is configured: stripe and alipay-sdk together
 * cost tens of MB of memory and start-up time that a gateway without them should not pay.
 */
const stripeModule = () => require('./stripe/provider') as typeof import('./stripe/provider');
const alipayModule = () => require('./alipay/provider') as typeof import('./alipay/provider');

export interface ProviderSecrets {
  sandboxWebhookSecret?: string;
}

/** The providers this instance has keys for. Adding a provider means one folder plus one line here. */
export class ProviderRegistry {
  private readonly byName: Map<ProviderName, PaymentProvider>;

  constructor(providers: PaymentProvider[]) {
    this.byName = new Map(providers.map((p) => [p.name, p]));
  }

  get names(): ProviderName[] {
    return [...this.byName.keys()];
  }

  /** For requests: a provider that is not enabled here is the caller's mistake (400), not a crash. */
  forCheckout(name: ProviderName): PaymentProvider {
    const provider = this.byName.get(name);
    if (!provider) throw invalidRequest('parameter_invalid', `The payment provider "${name}" is not enabled on this gateway.`, 'provider');
    return provider;
  }

  /** For stored payments and webhooks: the provider must exist, or the deployment lost a provider it used. */
  get(name: string): PaymentProvider | undefined {
    return this.byName.get(name as ProviderName);
  }
}

export function createProviderRegistry(config: Config, secrets: ProviderSecrets): ProviderRegistry {
  const providers: PaymentProvider[] = [];
  if (config.sandbox.enabled && secrets.sandboxWebhookSecret) {
    providers.push(createSandboxProvider({ webhookSecret: secrets.sandboxWebhookSecret, publicBaseUrl: config.publicBaseUrl }));
  }
  if (config.stripe.enabled) providers.push(stripeModule().createStripeProvider(config.stripe));
  if (config.alipay.enabled) providers.push(alipayModule().createAlipayProvider(config.alipay));
  return new ProviderRegistry(providers);
}
