import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Request, RequestHandler, Response, Router } from 'express';
import type { Catalog } from '../catalog/catalog';
import type { Database } from '../db/database';
import { appUser } from '../http/auth';
import { bearerAuth, commonErrors, errorSchema, jsonContent, openapi } from '../http/openapi-registry';
import { exactRouter } from '../http/router';
import { parseInput } from '../http/validation';
import type { PersonalDataVault } from '../privacy/vault';
import { ApiError, notFound } from '../shared/errors';
import { newId } from '../shared/ids';
import { consentHistory, consentsView, recordConsents } from './consents';
import { ErasureDeps, findErasure, requestErasure } from './erasure';
import { exportDocument, recordExport } from './export';
import { IdentityCheck, STEP_UP_HEADER } from './identity';
import { recommendFor } from './recommendations';
import {
  consentsSchema,
  consentsUpdateSchema,
  erasureIdParamsSchema,
  erasureSchema,
  personalDataExportSchema,
  recommendationsSchema,
  stepUpHeaderSchema,
} from './schemas';

const security = [{ [bearerAuth.name]: [] }];
const stepUpErrors = {
  403: jsonContent(errorSchema, '`step_up_required`: no fresh, unused step-up token of the caller in the Step-Up-Token header'),
  429: jsonContent(errorSchema, '`rate_limited`: too many rights requests this hour (RIGHTS_REQUESTS_PER_HOUR); see Retry-After'),
};

openapi.registerPath({
  method: 'get',
  path: '/v1/me/consents',
  operationId: 'getConsents',
  tags: ['privacy'],
  summary: "The caller's consents, each with its policy version and history",
  security,
  responses: { 200: jsonContent(consentsSchema, 'Every purpose; never asked counts as not given'), ...commonErrors },
});
openapi.registerPath({
  method: 'put',
  path: '/v1/me/consents',
  operationId: 'updateConsents',
  tags: ['privacy'],
  summary: 'Give or withdraw consents',
  description: 'Takes effect for every later request on every instance. A choice made under another policy version than the one in force answers 409 `policy_version_mismatch`.',
  security,
  request: { body: { content: { 'application/json': { schema: consentsUpdateSchema } } } },
  responses: { 200: jsonContent(consentsSchema, 'The consents now'), 409: jsonContent(errorSchema, '`policy_version_mismatch`'), ...commonErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/me/export',
  operationId: 'exportMyData',
  tags: ['privacy'],
  summary: 'Everything the gateway holds about the caller, decrypted',
  description: 'Streamed JSON. Needs a fresh step-up token. If reading fails midway the connection is cut, so a truncated document never parses as complete.',
  security,
  request: { headers: stepUpHeaderSchema },
  responses: { 200: jsonContent(personalDataExportSchema, 'The export'), ...commonErrors, ...stepUpErrors },
});
openapi.registerPath({
  method: 'post',
  path: '/v1/me/erasure',
  operationId: 'requestErasure',
  tags: ['privacy'],
  summary: "Erase the caller's personal data",
  description:
    'Crypto-shreds the data key and unlinks every record; accounting rows stay, anonymised. `pending` while a payment has an open dispute or a refund in flight (listed in `waiting_for_payments`).',
  security,
  request: { headers: stepUpHeaderSchema },
  responses: { 202: jsonContent(erasureSchema, 'The erasure request'), ...commonErrors, ...stepUpErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/me/erasure/{id}',
  operationId: 'getErasure',
  tags: ['privacy'],
  summary: 'Poll an erasure request',
  security,
  request: { params: erasureIdParamsSchema },
  responses: { 200: jsonContent(erasureSchema, 'The erasure request'), ...commonErrors },
});
openapi.registerPath({
  method: 'get',
  path: '/v1/recommendations',
  operationId: 'listRecommendations',
  tags: ['recommendations'],
  summary: 'Catalog items ranked for the caller',
  description: 'Personalised from the categories of paid purchases only with the `personalised_recommendations` consent; otherwise the catalog order, saying so. Nothing is shared with third parties.',
  security,
  responses: { 200: jsonContent(recommendationsSchema, 'Ranked items'), ...commonErrors },
});

export interface RightsRouterDeps extends ErasureDeps {
  db: Database;
  vault: PersonalDataVault;
  catalog: Catalog;
  identity: IdentityCheck;
  policyVersion: string;
  exportBatchSize: number;
  authenticate: RequestHandler[];
}

const policyVersionMismatch = (current: string) =>
  new ApiError(409, 'conflict', 'policy_version_mismatch', `Consents are given under the policy in force, version ${current}; show it to the user first.`);

/** /v1/me/* (the caller's own data rights) and /v1/recommendations. */
export function rightsRouter(deps: RightsRouterDeps): Router {
  const router = exactRouter();
  const subject = (res: Response) => {
    const user = appUser(res);
    return { user, hash: deps.vault.userHash(user.id) };
  };

  router.get('/v1/me/consents', ...deps.authenticate, async (_req: Request, res: Response) => {
    res.json(consentsView(await consentHistory(deps.db, subject(res).hash), deps.policyVersion));
  });

  router.put('/v1/me/consents', ...deps.authenticate, async (req: Request, res: Response) => {
    const body = parseInput(consentsUpdateSchema, req.body, 'body');
    const choices = Object.entries(body).flatMap(([purpose, choice]) => (choice ? [{ purpose, ...choice }] : []));
    if (choices.some((choice) => choice.policy_version !== deps.policyVersion)) throw policyVersionMismatch(deps.policyVersion);
    const { hash } = subject(res);
    const granted = Object.fromEntries(choices.map((choice) => [choice.purpose, choice.granted]));
    await deps.db.transaction((tx) => recordConsents(tx, hash, granted, deps.policyVersion));
    res.json(consentsView(await consentHistory(deps.db, hash), deps.policyVersion));
  });

  router.get('/v1/me/export', ...deps.authenticate, async (req: Request, res: Response) => {
    const { user, hash } = subject(res);
    const proof = await deps.identity.prove(user, req.get(STEP_UP_HEADER));
    await recordExport(deps.db, proof, newId('exp'));
    const document = await exportDocument(
      { db: deps.db, vault: deps.vault, policyVersion: deps.policyVersion, batchSize: deps.exportBatchSize },
      { id: user.id, hash, ref: proof.subjectRef },
    );
    res.status(200).type('application/json');
    // pipeline waits for the client to read (backpressure) and destroys the response if reading fails.
    await pipeline(Readable.from(document), res).catch((error: unknown) => {
      deps.logger.warn({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } }, 'export stream cut');
    });
  });

  router.post('/v1/me/erasure', ...deps.authenticate, async (req: Request, res: Response) => {
    const { user, hash } = subject(res);
    const proof = await deps.identity.prove(user, req.get(STEP_UP_HEADER));
    res.status(202).json(await requestErasure(deps, hash, proof));
  });

  router.get('/v1/me/erasure/:id', ...deps.authenticate, async (req: Request, res: Response) => {
    const { id } = parseInput(erasureIdParamsSchema, req.params, 'path');
    const request = await findErasure(deps.db, deps.identity.subjectRef(appUser(res).id), id);
    if (!request) throw notFound('erasure request');
    res.json(request);
  });

  router.get('/v1/recommendations', ...deps.authenticate, async (_req: Request, res: Response) => {
    res.json(await recommendFor({ db: deps.db, catalog: deps.catalog }, subject(res).hash));
  });

  return router;
}
