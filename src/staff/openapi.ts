import { jsonContent, listSchema, openapi } from '../http/openapi-registry';
import { z } from '../http/zod';
import { paymentIdParamsSchema, paymentSchema } from '../payments/schemas';
import {
  actionErrors, auditQuerySchema, auditRowSchema, blocklistAddSchema, blocklistIdSchema, blocklistQuerySchema, blocklistRowSchema,
  queueItemSchema, queueQuerySchema, reasonBodySchema, refundBodySchema, revealSchema, rulesSchema, searchQuerySchema, staffAuth,
  staffErrors, staffPaymentDetailSchema, staffPaymentSchema,
} from './schemas';

/** The ops API in /openapi.json, tagged `ops`. Every call is recorded in the audit log, refusals included. */
const security = [{ [staffAuth.name]: [] }];
const idempotencyHeader = z.object({ 'Idempotency-Key': z.string().min(1).max(255).openapi({ description: 'Required: a repeat with the same key and body answers the first result.' }) });
const body = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

const routes: Parameters<typeof openapi.registerPath>[0][] = [
  { method: 'get', path: '/v1/ops/me', summary: 'The signed-in staff member and their roles', responses: { 200: jsonContent(z.object({ id: z.string(), roles: z.array(z.string()) }), 'Who you are'), ...staffErrors } },
  {
    method: 'get', path: '/v1/ops/payments', summary: 'Search payments (any payment-reading role)',
    description: 'Filters combine with AND; newest first; `starting_after` pages. Personal data is masked as pseudonyms.',
    request: { query: searchQuerySchema }, responses: { 200: jsonContent(listSchema(staffPaymentSchema, 'StaffPaymentList'), 'Matching payments'), ...staffErrors },
  },
  {
    method: 'get', path: '/v1/ops/review-queue', summary: 'Held payments, waiting longest first',
    description: 'Each with why it is held, the decision explanation and the same user\'s recent payments (masked).',
    request: { query: queueQuerySchema }, responses: { 200: jsonContent(listSchema(queueItemSchema, 'ReviewQueue'), 'The queue'), ...staffErrors },
  },
  {
    method: 'get', path: '/v1/ops/payments/{id}', summary: 'One payment: history, facts, refunds, risk decision with rule hits, masked data',
    request: { params: paymentIdParamsSchema }, responses: { 200: jsonContent(staffPaymentDetailSchema, 'The payment'), ...staffErrors },
  },
  {
    method: 'post', path: '/v1/ops/payments/{id}/reveal', summary: 'Reveal the plaintext personal data of one payment (reviewer, refunds, risk_admin)',
    description: 'Needs a reason; the reveal and its reason are recorded in the audit log.',
    request: { params: paymentIdParamsSchema, body: body(reasonBodySchema) }, responses: { 200: jsonContent(revealSchema, 'The plaintext'), ...staffErrors },
  },
  ...(['approve', 'reject'] as const).map((verdict) => ({
    method: 'post' as const, path: `/v1/ops/payments/{id}/${verdict}`,
    summary: verdict === 'approve' ? 'Release a held payment (reviewer)' : 'Refuse a held payment: void it, or refund it in full (reviewer)',
    request: { params: paymentIdParamsSchema, headers: idempotencyHeader, body: body(reasonBodySchema) },
    responses: { 200: jsonContent(paymentSchema, 'The payment after the decision'), ...actionErrors },
  })),
  {
    method: 'post', path: '/v1/ops/payments/{id}/refunds', summary: 'Refund part or all of the rest of a payment (refunds)',
    request: { params: paymentIdParamsSchema, headers: idempotencyHeader, body: body(refundBodySchema) },
    responses: { 201: jsonContent(z.object({ id: z.string(), object: z.literal('refund'), payment_id: z.string(), amount: z.number().int(), currency: z.string(), status: z.string() }), 'The refund'), ...actionErrors },
  },
  { method: 'get', path: '/v1/ops/blocklist', summary: 'Blocklist entries (risk_admin, viewer)', request: { query: blocklistQuerySchema }, responses: { 200: jsonContent(listSchema(blocklistRowSchema, 'BlocklistList'), 'Entries, newest first; hashed values cannot be read back'), ...staffErrors } },
  { method: 'post', path: '/v1/ops/blocklist', summary: 'Add a blocklist entry with a note and an optional expiry (risk_admin)', request: { body: body(blocklistAddSchema) }, responses: { 201: jsonContent(z.object({ added: z.boolean(), kind: z.string() }), 'Added (200 with added=false when it was there already)'), ...staffErrors } },
  { method: 'delete', path: '/v1/ops/blocklist/{id}', summary: 'Remove a blocklist entry (risk_admin)', request: { params: blocklistIdSchema }, responses: { 200: jsonContent(z.object({ removed: z.literal(true), id: z.number().int() }), 'Removed'), ...staffErrors } },
  { method: 'get', path: '/v1/ops/rules', summary: 'Risk rules in force with 30-day hit counts and shadow-rule results (risk_admin, viewer)', responses: { 200: jsonContent(rulesSchema, 'The rules'), ...staffErrors } },
  { method: 'get', path: '/v1/ops/audit', summary: 'The audit log, newest first (auditor)', request: { query: auditQuerySchema }, responses: { 200: jsonContent(listSchema(auditRowSchema, 'AuditLog'), 'Audit rows'), ...staffErrors } },
];

for (const route of routes) openapi.registerPath({ ...route, tags: ['ops'], security });
