import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { Database } from '../db/database';
import { openapi } from '../http/openapi-registry';
import type { Metrics } from './metrics';
import { exactRouter } from '../http/router';

openapi.registerPath({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: { description: 'The process is up' } } });
openapi.registerPath({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the database answers',
  responses: { 200: { description: 'Ready' }, 503: { description: 'The database is unreachable' } },
});
openapi.registerPath({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text format' } } });

export function buildOpenApiDocument(serverUrl: string) {
  return new OpenApiGeneratorV31(openapi.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'kalos-pay',
      version: '1.0.0',
      description:
        'In-app payment gateway. Money is an integer in the currency’s minor unit; errors are `{ error: { type, code, message, param, request_id } }`.',
    },
    servers: [{ url: serverUrl }],
  });
}

export function opsRouter(deps: { db: Database; metrics: Metrics; publicBaseUrl: string }): Router {
  const router = exactRouter();
  const document = buildOpenApiDocument(deps.publicBaseUrl);
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const ready = await deps.db.ping();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'database_unreachable' });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  // The API page is served from the swagger-ui-dist package itself: no CDN, works offline.
  router.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'kalos-pay API' }));
  return router;
}
