import { z } from '../http/zod';
import { timestamp } from '../http/openapi-registry';
import { orderDetailSchema } from '../payments/schemas';
import { CONSENT_PURPOSES } from './consents';

const purposeSchema = z.enum(CONSENT_PURPOSES);

export const consentsSchema = z
  .object({
    object: z.literal('consents'),
    policy_version: z.string().openapi({ description: 'The privacy policy in force (PRIVACY_POLICY_VERSION).' }),
    consents: z.array(
      z.object({
        purpose: purposeSchema,
        granted: z.boolean().openapi({ description: 'Never asked counts as not given.' }),
        policy_version: z.string().nullable().openapi({ description: 'The policy version the current answer was given under.' }),
        updated_at: timestamp().nullable().openapi({ description: 'When the current answer was given or withdrawn.' }),
        history: z.array(z.object({ granted: z.boolean(), policy_version: z.string(), at: timestamp() })),
      }),
    ),
  })
  .openapi('Consents');

const choiceSchema = z.object({ granted: z.boolean(), policy_version: z.string().min(1).max(32) }).strict();

export const consentsUpdateSchema = z
  .object(Object.fromEntries(CONSENT_PURPOSES.map((purpose) => [purpose, choiceSchema.optional()])) as Record<
    (typeof CONSENT_PURPOSES)[number],
    z.ZodOptional<typeof choiceSchema>
  >)
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'name at least one purpose' })
  .openapi('ConsentsUpdate', {
    description: 'Give (`granted: true`) or withdraw (`false`) consent per purpose, naming the policy version the user was shown.',
    example: { personalised_recommendations: { granted: true, policy_version: '1' } },
  });

export const erasureSchema = z
  .object({
    id: z.string(),
    object: z.literal('erasure_request'),
    status: z.enum(['pending', 'completed']),
    waiting_for_payments: z.array(z.string()).openapi({ description: 'Payments with an open dispute or a refund in flight, erased when they close.' }),
    message: z.string(),
    created_at: timestamp(),
    completed_at: timestamp().nullable(),
  })
  .openapi('ErasureRequest');

export const erasureIdParamsSchema = z.object({ id: z.string().regex(/^era_[0-9A-Za-z]{1,64}$/, { message: 'must be an erasure request id: era_…' }) });

export const stepUpHeaderSchema = z.object({
  'Step-Up-Token': z.string().min(1).max(8_192).openapi({
    description: 'A fresh step-up token of the caller from the identity service (`amr` with `mfa`, recent `auth_time`, a `jti`); each token serves one request.',
  }),
});

const exportedPaymentSchema = orderDetailSchema.extend({
  personal: z.object({
    user_id: z.string(),
    device: z.record(z.string(), z.unknown()).openapi({ description: 'The device as the app sent it at checkout.' }),
    ip_address: z.string(),
    location: z.object({ lat: z.number(), lon: z.number() }).nullable(),
  }),
  risk_decisions: z.array(
    z.object({
      stage: z.enum(['checkout', 'step_up']),
      decision: z.enum(['allow', 'challenge', 'review', 'block']),
      automated: z.literal(true),
      reasons: z.array(z.object({ code: z.string(), description: z.string() })),
      how_to_contest: z.string(),
      at: timestamp(),
    }),
  ),
});

export const personalDataExportSchema = z
  .object({
    object: z.literal('personal_data_export'),
    generated_at: timestamp(),
    user_id: z.string(),
    consents: consentsSchema,
    rights_requests: z.array(z.object({ id: z.string(), kind: z.enum(['export', 'erasure']), status: z.string(), created_at: timestamp() })),
    payments: z.array(exportedPaymentSchema).openapi({ description: 'Newest first; streamed, so a large history arrives as it is read.' }),
  })
  .openapi('PersonalDataExport');

export const recommendationsSchema = z
  .object({
    object: z.literal('list'),
    personalised: z.boolean(),
    basis: z.enum(['purchase_categories', 'catalog_order']).openapi({
      description: '`purchase_categories`: ranked by the categories of your paid purchases; `catalog_order`: the same for everyone.',
    }),
    reason: z.string().nullable().openapi({ description: 'Why the list is not personalised, when it is not.' }),
    data: z.array(z.object({ sku: z.string(), name: z.string(), category: z.string(), amount: z.number().int(), currency: z.string() })),
  })
  .openapi('Recommendations');
