import { z } from 'zod';
import { envString, envUrl } from '../../config/env';
import { Secret } from '../../privacy/secret';

/** Stripe is switched on by setting its three keys; STRIPE_API_BASE points the SDK elsewhere (a local fake in tests). */
export const stripeSettingsSchema = z
  .object({
    STRIPE_SECRET_KEY: envString().refine((v) => v === undefined || /^(sk|rk)_(test|live)_\w+$/.test(v), {
      message: 'must look like sk_test_… or sk_live_… (a restricted rk_… key works too)',
    }),
    STRIPE_PUBLISHABLE_KEY: envString().refine((v) => v === undefined || /^pk_(test|live)_\w+$/.test(v), {
      message: 'must look like pk_test_… or pk_live_…',
    }),
    STRIPE_WEBHOOK_SECRET: envString().refine((v) => v === undefined || /^whsec_\w{8,}$/.test(v), {
      message: 'must look like whsec_… (from the Stripe dashboard or `stripe listen`)',
    }),
    STRIPE_API_BASE: envUrl(['http', 'https']),
  })
  .superRefine((s, ctx) => {
    const keys = ['STRIPE_SECRET_KEY', 'STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
    const set = keys.filter((k) => s[k] !== undefined);
    if (set.length > 0 && set.length < keys.length) {
      for (const missing of keys.filter((k) => s[k] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [missing], message: `is required because ${set.join(', ')} is set` });
      }
    }
    // A test publishable key with a live secret key (or the reverse) gives a Payment Sheet that can never confirm.
    // Compared only when both keys are well-formed; a malformed one is already reported on its own.
    const mode = (key?: string) => (key ? /^(?:sk|rk|pk)_(test|live)_\w+$/.exec(key)?.[1] : undefined);
    const secretMode = mode(s.STRIPE_SECRET_KEY);
    const publishableMode = mode(s.STRIPE_PUBLISHABLE_KEY);
    if (secretMode && publishableMode && secretMode !== publishableMode) {
      ctx.addIssue({ code: 'custom', path: ['STRIPE_PUBLISHABLE_KEY'], message: 'must be from the same mode (test or live) as STRIPE_SECRET_KEY' });
    }
  })
  .transform((s) =>
    s.STRIPE_SECRET_KEY && s.STRIPE_PUBLISHABLE_KEY && s.STRIPE_WEBHOOK_SECRET
      ? {
          enabled: true as const,
          // Wrapped so that logging the configuration prints a mask; the publishable key is public by design.
          secretKey: new Secret(s.STRIPE_SECRET_KEY),
          publishableKey: s.STRIPE_PUBLISHABLE_KEY,
          webhookSecret: new Secret(s.STRIPE_WEBHOOK_SECRET),
          apiBase: s.STRIPE_API_BASE ? new URL(s.STRIPE_API_BASE) : undefined,
        }
      : { enabled: false as const },
  );

export type StripeSettings = z.infer<typeof stripeSettingsSchema>;

export type EnabledStripeSettings = Extract<StripeSettings, { enabled: true }>;
