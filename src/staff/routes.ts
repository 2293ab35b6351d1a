import type { Request, Response, Router } from 'express';
import type { AuditRow } from '../audit/trail';
import type { Database } from '../db/database';
import { bearerToken } from '../http/auth';
import { parseInput } from '../http/validation';
import { exactRouter } from '../http/router';
import { paymentIdParamsSchema, paymentIdSchema } from '../payments/schemas';
import type { PersonalDataVault } from '../privacy/vault';
import { addToBlocklist, BlocklistRow, listBlocklist, removeBlocklistEntry, toBlocklistEntry } from '../risk/blocklist';
import { ApiError, invalidRequest, notFound } from '../shared/errors';
import { onceByKey, runPaymentAction, StaffActionDeps } from './actions';
import { requireRole, StaffMember, StaffRole } from './auth';
import { revealPersonalData } from './masking';
import { paymentDetail, reviewQueue, searchPayments } from './payments';
import { rulesInForce } from './rules';
import {
  auditQuerySchema, blocklistAddSchema, blocklistIdSchema, blocklistQuerySchema, queueQuerySchema, reasonBodySchema, refundBodySchema,
  searchQuerySchema,
} from './schemas';
import type { StaffOps } from './service';
import './openapi';

export interface StaffRouterDeps extends StaffActionDeps {
  db: Database;
  vault: PersonalDataVault;
  staff: StaffOps;
  risk: { rulesetVersion: string };
  riskSettings: { rulesFile: string; enabled: boolean };
}

/** Who may do what. Reading payments is open to every role that works on them; the audit log only to auditors. */
const READERS: StaffRole[] = ['viewer', 'reviewer', 'refunds', 'risk_admin'];
const REVEALERS: StaffRole[] = ['reviewer', 'refunds', 'risk_admin'];

interface Answer {
  status?: number;
  body: unknown;
  /** What the audit row says besides who, what and the outcome: a reason, an amount. Never personal data. */
  detail?: Record<string, unknown>;
}

interface Endpoint {
  action: string;
  roles: readonly StaffRole[];
  resource: (req: Request) => string;
  run: (req: Request, staff: StaffMember) => Promise<Answer>;
}

/** A path id is quoted in the audit log only when it is a well-formed id (never whatever the caller typed). */
const paymentResource = (req: Request) => `payment:${paymentIdSchema.safeParse(req.params.id).success ? req.params.id : '(invalid id)'}`;

const idempotencyKey = (req: Request): string => {
  const key = req.get('idempotency-key');
  if (!key) throw invalidRequest('parameter_missing', 'Staff actions need an Idempotency-Key header.', 'Idempotency-Key');
  if (key.length > 255) throw invalidRequest('parameter_invalid', 'The Idempotency-Key is at most 255 characters.', 'Idempotency-Key');
  return key;
};

const auditView = (row: AuditRow) => ({
  seq: row.seq, at: row.at.toISOString(), actor: row.actor, role: row.role, action: row.action, resource: row.resource, outcome: row.outcome,
  request_id: row.requestId, ip_hash: row.ipHash, detail: row.detail, prev_hash: row.prevHash, hash: row.hash,
});

const blocklistView = (row: BlocklistRow) => ({
  id: Number(row.id), kind: row.kind, value: row.value, hashed: row.hashed, note: row.note,
  created_at: row.created_at.toISOString(), expires_at: row.expires_at?.toISOString() ?? null,
});

/**
 * Every ops route: authenticate the staff token, check the role, run, and append the audit row before the
 * answer leaves, refusals included (401, 403 and every 4xx). If the audit row cannot be written, the caller
 * gets an error rather than unaudited data.
 */
function handle(deps: StaffRouterDeps, endpoint: Endpoint) {
  return async (req: Request, res: Response): Promise<void> => {
    const base = {
      action: endpoint.action,
      resource: endpoint.resource(req),
      requestId: String(res.locals.requestId),
      ipHash: deps.staff.audit.ipHash(req.ip ?? ''),
    };
    let staff: StaffMember | undefined;
    try {
      staff = await deps.staff.verifier.verifyStaff(bearerToken(req));
      requireRole(staff, endpoint.roles);
      const answer = await endpoint.run(req, staff);
      await deps.staff.audit.append({ ...base, actor: staff.id, role: staff.roles.join(','), outcome: 'ok', detail: answer.detail });
      res.status(answer.status ?? 200).json(answer.body);
    } catch (error) {
      const known = error instanceof ApiError && error.status < 500;
      const detail = { code: error instanceof ApiError ? error.code : 'internal_error' };
      await deps.staff.audit
        .append({ ...base, actor: staff?.id ?? 'unauthenticated', role: staff?.roles.join(',') ?? '', outcome: known ? 'refused' : 'failed', detail })
        .catch(() => undefined); // the original error is what the caller must see; a database outage answers 503 anyway
      throw error;
    }
  };
}

/** approve, reject and refunds: once per Idempotency-Key, with the reason in the audit row. */
function paymentAction(deps: StaffRouterDeps, action: 'approve' | 'reject' | 'refund'): Endpoint {
  return {
    action: `payment.${action}`,
    roles: action === 'refund' ? ['refunds'] : ['reviewer'],
    resource: paymentResource,
    async run(req, staff) {
      const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
      const key = idempotencyKey(req);
      const body = action === 'refund' ? parseInput(refundBodySchema, req.body, 'body') : { ...parseInput(reasonBodySchema, req.body, 'body'), amount: undefined };
      const answer = await onceByKey(deps.db, staff, key, { action, id, body }, () =>
        runPaymentAction(deps, staff, { action, paymentId: id, reason: body.reason, amount: body.amount }),
      );
      return { status: answer.status, body: answer.body, detail: { reason: body.reason, amount: body.amount, replayed: answer.replayed || undefined } };
    },
  };
}

function endpoints(deps: StaffRouterDeps): [method: 'get' | 'post' | 'delete', path: string, Endpoint][] {
  const read = { db: deps.db, vault: deps.vault, pseudonyms: deps.staff.pseudonyms };
  return [
    ['get', '/v1/ops/me', { action: 'staff.sign_in', roles: [...READERS, 'auditor'], resource: () => 'staff', run: async (_req, staff) => ({ body: staff }) }],
    ['get', '/v1/ops/payments', {
      action: 'payments.search', roles: READERS, resource: () => 'payments',
      async run(req) {
        const query = parseInput(searchQuerySchema, req.query, 'query');
        const found = await searchPayments(read, {
          id: query.id, providerRef: query.provider_ref, status: query.status, provider: query.provider, reviewReason: query.review_reason,
          sku: query.sku, amountMin: query.amount_min, amountMax: query.amount_max, createdFrom: query.created_from, createdTo: query.created_to,
          limit: query.limit, startingAfter: query.starting_after,
        });
        return { body: { object: 'list', data: found.data, has_more: found.hasMore }, detail: { payment_ids: found.data.map((p) => p.id) } };
      },
    }],
    ['get', '/v1/ops/review-queue', {
      action: 'review_queue.read', roles: READERS, resource: () => 'review_queue',
      async run(req) {
        const { limit } = parseInput(queueQuerySchema, req.query, 'query');
        const data = await reviewQueue(read, limit);
        return { body: { object: 'list', data, has_more: data.length === limit }, detail: { payment_ids: data.map((p) => p.id) } };
      },
    }],
    ['get', '/v1/ops/payments/:id', {
      action: 'payment.read', roles: READERS, resource: paymentResource,
      run: async (req) => ({ body: await paymentDetail(read, parseInput(paymentIdParamsSchema, req.params, 'path').id) }),
    }],
    ['post', '/v1/ops/payments/:id/reveal', {
      action: 'payment.reveal', roles: REVEALERS, resource: paymentResource,
      async run(req) {
        const { id } = parseInput(paymentIdParamsSchema, req.params, 'path');
        const { reason } = parseInput(reasonBodySchema, req.body, 'body');
        return { body: { payment_id: id, ...(await revealPersonalData(deps.db, deps.vault, id)) }, detail: { reason } };
      },
    }],
    ['post', '/v1/ops/payments/:id/approve', paymentAction(deps, 'approve')],
    ['post', '/v1/ops/payments/:id/reject', paymentAction(deps, 'reject')],
    ['post', '/v1/ops/payments/:id/refunds', paymentAction(deps, 'refund')],
    ['get', '/v1/ops/blocklist', {
      action: 'blocklist.read', roles: ['risk_admin', 'viewer'], resource: () => 'blocklist',
      async run(req) {
        const { kind } = parseInput(blocklistQuerySchema, req.query, 'query');
        return { body: { object: 'list', data: (await listBlocklist(deps.db, kind)).map(blocklistView), has_more: false } };
      },
    }],
    ['post', '/v1/ops/blocklist', {
      action: 'blocklist.add', roles: ['risk_admin'], resource: () => 'blocklist',
      async run(req) {
        const body = parseInput(blocklistAddSchema, req.body, 'body');
        if (body.expires_at && body.expires_at.getTime() <= Date.now()) throw invalidRequest('parameter_invalid', 'expires_at must be in the future.', 'expires_at');
        const entry = toBlocklistEntry(body.kind, body.value, deps.vault.blindIndex);
        const added = await addToBlocklist(deps.db, entry, body.note, body.expires_at);
        return { status: added ? 201 : 200, body: { added, kind: body.kind }, detail: { kind: body.kind, added, note: body.note, expires_at: body.expires_at?.toISOString() } };
      },
    }],
    ['delete', '/v1/ops/blocklist/:id', {
      action: 'blocklist.remove', roles: ['risk_admin'], resource: (req) => `blocklist:${/^\d{1,15}$/.test(req.params.id as string) ? req.params.id : '(invalid id)'}`,
      async run(req) {
        const { id } = parseInput(blocklistIdSchema, req.params, 'path');
        if (!(await removeBlocklistEntry(deps.db, id))) throw notFound('blocklist entry');
        return { body: { removed: true, id } };
      },
    }],
    ['get', '/v1/ops/rules', {
      action: 'rules.read', roles: ['risk_admin', 'viewer'], resource: () => 'rules',
      run: async () => ({ body: await rulesInForce(deps.db, deps.riskSettings, deps.risk.rulesetVersion) }),
    }],
    ['get', '/v1/ops/audit', {
      action: 'audit.read', roles: ['auditor'], resource: () => 'audit',
      async run(req) {
        const query = parseInput(auditQuerySchema, req.query, 'query');
        const rows = await deps.staff.audit.list({ limit: query.limit, beforeSeq: query.before_seq, actor: query.actor, action: query.action, resource: query.resource });
        return { body: { object: 'list', data: rows.map(auditView), has_more: rows.length === query.limit } };
      },
    }],
  ];
}

/** The staff ops API under /v1/ops/: thin HTTP over src/staff, src/risk/review.ts and src/payments/refunds.ts. */
export function staffRouter(deps: StaffRouterDeps): Router {
  const router = exactRouter();
  for (const [method, path, endpoint] of endpoints(deps)) router[method](path, handle(deps, endpoint));
  return router;
}
