import { errorSchema, jsonContent, openapi } from '../http/openapi-registry';
import { z } from '../http/zod';
import { paymentIdSchema, paymentSchema } from '../payments/schemas';
import { PAYMENT_STATUSES } from '../payments/status';
import { BLOCKLIST_KINDS } from '../risk/blocklist';
import { timestamp } from '../http/openapi-registry';

export const staffAuth = openapi.registerComponent('securitySchemes', 'staffToken', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    'Staff token from the staff identity provider (STAFF_AUTH_*), with a `roles` claim (`viewer`, `reviewer`, `refunds`, `risk_admin`, `auditor`). On the embedded instance: `npm run token -- --ops reviewer --sub alice`. App tokens are refused here, and staff tokens on app routes.',
});

/** Why a person did what they did: shown in the audit log next to their name. */
export const reasonSchema = z.string().trim().min(1).max(500).openapi({ description: '1–500 characters, recorded in the audit log.', example: 'Known customer; device change confirmed by support ticket.' });

export const reasonBodySchema = z.object({ reason: reasonSchema }).strict().openapi('StaffReason');

export const refundBodySchema = z
  .object({
    amount: z.number().int().min(1).optional().openapi({ description: 'Minor units; the whole refundable rest when omitted.' }),
    reason: reasonSchema,
  })
  .strict()
  .openapi('StaffRefundRequest');

const isoDate = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

export const searchQuerySchema = z
  .object({
    id: paymentIdSchema.optional(),
    provider_ref: z.string().min(1).max(255).optional(),
    status: z.enum(PAYMENT_STATUSES).optional(),
    provider: z.enum(['sandbox', 'stripe', 'alipay']).optional(),
    review_reason: z.string().regex(/^[a-z_]{1,64}$/).optional(),
    sku: z.string().min(1).max(64).optional(),
    amount_min: z.coerce.number().int().min(0).optional(),
    amount_max: z.coerce.number().int().min(0).optional(),
    created_from: isoDate.optional(),
    created_to: isoDate.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    starting_after: paymentIdSchema.optional(),
  })
  .strict();

export const queueQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }).strict();

export const blocklistQuerySchema = z.object({ kind: z.enum(BLOCKLIST_KINDS).optional() }).strict();

export const blocklistAddSchema = z
  .object({
    kind: z.enum(BLOCKLIST_KINDS),
    value: z.string().min(1).max(255).openapi({ description: 'A user id, device id, IP address or CIDR range; stored as a keyed hash unless a range.' }),
    note: z.string().trim().min(1).max(500).optional(),
    expires_at: isoDate.optional().openapi({ description: 'When the entry stops matching; never when omitted.' }),
  })
  .strict()
  .openapi('BlocklistAdd');

export const blocklistIdSchema = z.object({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before_seq: z.coerce.number().int().min(1).optional(),
    actor: z.string().min(1).max(255).optional(),
    action: z.string().min(1).max(64).optional(),
    resource: z.string().min(1).max(300).optional(),
  })
  .strict();

const maskedSchema = z
  .object({ user: z.string(), device: z.string(), ip: z.string().nullable().optional(), location: z.enum(['masked']).nullable().optional() })
  .openapi('MaskedPersonalData', { description: 'Stable keyed pseudonyms (`usr_…`, `dev_…`, `ip_…`): the same person shows the same pseudonym everywhere.' });

const ruleHitSchema = z.object({ rule: z.string(), reason: z.string(), action: z.string(), score: z.number(), mode: z.enum(['enabled', 'shadow']) });

export const staffPaymentSchema = paymentSchema
  .extend({
    review_reason: z.string().nullable(),
    personal_data: maskedSchema,
    rule_hits: z.array(ruleHitSchema),
    history: z.array(z.object({ status: z.string(), at: timestamp() })),
  })
  .openapi('StaffPayment');

const explanationSchema = z.object({ decision: z.string(), automated: z.literal(true), reasons: z.array(z.object({ code: z.string(), description: z.string() })), how_to_contest: z.string() });

export const staffPaymentDetailSchema = staffPaymentSchema
  .extend({
    captured_amount: z.number().int(),
    refundable_amount: z.number().int(),
    refunds: z.array(z.object({ id: z.string(), amount: z.number().int(), currency: z.string(), status: z.string(), reason: z.string() })),
    facts: z.array(z.object({ kind: z.string(), key: z.string(), amount: z.number().int().nullable(), currency: z.string().nullable(), occurred_at: timestamp() })),
    risk: z
      .object({
        decision: z.string(), score: z.number(), stage: z.string(), ruleset_version: z.string(), fail_mode: z.boolean(),
        rule_hits: z.array(ruleHitSchema), explanation: explanationSchema, decided_at: timestamp(),
      })
      .nullable(),
    user_recent_payments: z.array(staffPaymentSchema),
  })
  .openapi('StaffPaymentDetail');

export const queueItemSchema = staffPaymentSchema
  .extend({ held_at: timestamp().nullable(), explanation: explanationSchema.nullable(), user_recent_payments: z.array(staffPaymentSchema) })
  .openapi('ReviewQueueItem');

export const revealSchema = z
  .object({ payment_id: z.string(), user_id: z.string(), device: z.unknown(), ip: z.string().nullable(), location: z.unknown() })
  .openapi('RevealedPersonalData');

export const auditRowSchema = z
  .object({
    seq: z.number().int(), at: timestamp(), actor: z.string(), role: z.string(), action: z.string(), resource: z.string(),
    outcome: z.enum(['ok', 'refused', 'failed']), request_id: z.string(), ip_hash: z.string(), detail: z.record(z.string(), z.unknown()),
    prev_hash: z.string(), hash: z.string(),
  })
  .openapi('AuditRow');

export const blocklistRowSchema = z
  .object({ id: z.number().int(), kind: z.enum(BLOCKLIST_KINDS), value: z.string(), hashed: z.boolean(), note: z.string().nullable(), created_at: timestamp(), expires_at: timestamp().nullable() })
  .openapi('BlocklistEntry');

export const rulesSchema = z
  .object({
    version: z.string(), file_version: z.string().nullable(), window_days: z.number().int(),
    rules: z.array(z.object({ id: z.string(), description: z.string().nullable(), reason: z.string(), action: z.string(), score: z.number(), mode: z.string(), hits: z.number().int(), shadow_hits: z.number().int() })),
  })
  .openapi('RulesInForce');

export const staffErrors = {
  400: jsonContent(errorSchema, '`parameter_missing`, `parameter_invalid` (e.g. a reason that is empty or over 500 characters, an amount above the refundable rest), `parameter_unknown`.'),
  401: jsonContent(errorSchema, '`token_missing`, `token_invalid` (an app token is invalid here) or `token_expired`. Recorded in the audit log.'),
  403: jsonContent(errorSchema, '`insufficient_role`: the token lacks every role this route allows. Recorded in the audit log.'),
  404: jsonContent(errorSchema, '`resource_missing`.'),
  503: jsonContent(errorSchema, '`service_unavailable` or `identity_unavailable`; retry after Retry-After.'),
};

export const actionErrors = {
  ...staffErrors,
  409: jsonContent(errorSchema, "`invalid_state_transition` (already decided, not held), `action_pending` (another staff member's action on this payment is running) or `idempotency_key_in_use`."),
  422: jsonContent(errorSchema, '`idempotency_key_reused`: the key was used with another request.'),
};
