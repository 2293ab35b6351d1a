import { z } from '../http/zod';
import { timestamp } from '../http/openapi-registry';
import { idPattern } from '../shared/ids';
import { PAYMENT_STATUSES } from './status';

/** What an identifier can be spelled with: UUIDs, hex, base64 and base64url, prefixed ids. */
const DEVICE_ID = /^[A-Za-z0-9._:+/=-]+$/;

export const deviceSchema = z
  .object({
    id: z
      .string()
      .trim()
      .min(1)
      .max(128)
      .regex(DEVICE_ID, { message: 'must be an identifier: letters, digits and . _ : - + / = only' })
      .openapi({
        description:
          'Stable app-install or device identifier: the IDFV, Android ID, OAID, an install UUID, a hash of one of them, or a 15-digit IMEI. Letters, digits and `. _ : - + / =`, up to 128 characters. A card number here is refused like anywhere else.',
        example: 'E621E1F8-C36C-495A-93FC-0C247A3E6E5F',
      }),
    model: z.string().trim().min(1).max(128).openapi({ example: 'iPhone15,2' }),
    os: z.string().trim().min(1).max(32).openapi({ example: 'iOS' }),
    os_version: z.string().trim().min(1).max(32).openapi({ example: '17.4' }),
    emulator: z.boolean().default(false),
    rooted: z.boolean().default(false),
  })
  .strict()
  .openapi('Device');

export const locationSchema = z
  .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
  .strict()
  .openapi('Location', { description: 'Optional device location, used only for fraud checks and stored encrypted.' });

export const checkoutRequestSchema = z
  .object({
    sku: z.string().min(1).max(64).openapi({ example: 'gems_600', description: 'Catalog sku; the price comes from the server catalog.' }),
    quantity: z.number().int().min(1).max(99).default(1),
    provider: z.enum(['sandbox', 'stripe', 'alipay']),
    device: deviceSchema,
    location: locationSchema.optional(),
  })
  .strict()
  .openapi('CheckoutRequest');

export type CheckoutRequest = z.infer<typeof checkoutRequestSchema>;

export const idempotencyHeaderSchema = z.object({
  'Idempotency-Key': z.string().min(1).max(255).openapi({ description: 'Unique per intended payment; retries reuse it. Scoped to the user, kept 24 h.' }),
});

/** A payment id as the API hands them out; anything else is refused before it reaches SQL. */
export const paymentIdSchema = z
  .string()
  .regex(idPattern('pay'), { message: 'must be a payment id: pay_ followed by letters and digits' })
  .openapi({ example: 'pay_3kTzQ8vYf2LmN0aBcD1e' });

export const paymentIdParamsSchema = z.object({ id: paymentIdSchema });

export const listQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    starting_after: paymentIdSchema.optional(),
  })
  .strict();

const nextActionSchema = z
  .object({
    type: z.enum(['sandbox_confirm', 'stripe_payment_sheet', 'alipay_app', 'verify']),
    complete_url: z.string().optional(),
    client_secret: z.string().optional(),
    publishable_key: z.string().optional(),
    order_string: z.string().optional(),
    verify_url: z.string().optional(),
  })
  .nullable()
  .openapi('NextAction');

export const paymentSchema = z
  .object({
    id: z.string(),
    object: z.literal('payment'),
    status: z.enum(PAYMENT_STATUSES),
    amount: z.number().int().openapi({ description: 'Minor units of the currency (fen, cents; JPY has none).' }),
    currency: z.string().openapi({ example: 'CNY' }),
    item: z.object({ sku: z.string(), name: z.string(), quantity: z.number().int() }),
    provider: z.enum(['sandbox', 'stripe', 'alipay']),
    risk: z.object({ decision: z.enum(['allow', 'challenge', 'review', 'block']), score: z.number().int() }),
    refunded_amount: z.number().int(),
    next_action: nextActionSchema,
    created_at: timestamp(),
    updated_at: timestamp(),
  })
  .openapi('Payment');

export const orderDetailSchema = paymentSchema
  .extend({
    history: z.array(z.object({ status: z.enum(PAYMENT_STATUSES), at: timestamp() })),
    refunds: z.array(
      z.object({ id: z.string(), object: z.literal('refund'), amount: z.number().int(), currency: z.string(), status: z.string(), reason: z.string(), created_at: timestamp(), updated_at: timestamp() }),
    ),
    after_sales: z.array(z.unknown()),
  })
  .openapi('OrderDetail');

export const sandboxCompleteSchema = z.object({ outcome: z.enum(['succeeded', 'failed']) }).strict().openapi('SandboxComplete');
