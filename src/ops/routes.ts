import path from 'node:path';
import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Database } from '../db/database';
import { buildOpenApiDocument } from '../http/openapi-document';
import { jsonContent, openapi } from '../http/openapi-registry';
import { z } from '../http/zod';
import type { Metrics } from './metrics';
import { exactRouter } from '../http/router';

const statusBody = (status: string) => jsonContent(z.object({ status: z.literal(status) }), status);

openapi.registerPath({
  method: 'get',
  path: '/healthz',
  operationId: 'getHealth',
  tags: ['operations'],
  summary: 'Liveness: the process is up',
  responses: { 200: statusBody('ok') },
});
openapi.registerPath({
  method: 'get',
  path: '/readyz',
  operationId: 'getReadiness',
  tags: ['operations'],
  summary: 'Readiness: the database answers',
  responses: { 200: statusBody('ready'), 503: statusBody('database_unreachable') },
});
openapi.registerPath({
  method: 'get',
  path: '/metrics',
  operationId: 'getMetrics',
  tags: ['operations'],
  summary: 'Prometheus metrics (docs/operations.md lists them)',
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
});

/** Exactly the files the API page loads (see swagger-ui-express's page template), and nothing else of the package. */
const DOCS_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};
const SWAGGER_UI_DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/**
 * GET /docs/ is the API page, served offline from swagger-ui-dist: the page, its generated init script
 * (which embeds our OpenAPI document) and the assets it names. The rest of the package (the stock petstore
 * page, oauth2-redirect, README, source maps, other bundles) is not served.
 */
function docsRoutes(router: Router, document: ReturnType<typeof buildOpenApiDocument>): void {
  // generateHTML also prepares the init script that embeds the document; `serve` is [the handler of that
  // script, a static handler for the whole package], and only the first is mounted.
  const page = swaggerUi.generateHTML(document, { customSiteTitle: 'kalos-pay API' });
  const [initScript] = swaggerUi.serve;
  // The page loads its assets by relative URLs, so it lives at /docs/.
  router.get('/docs', (_req, res) => res.redirect(301, '/docs/'));
  router.get('/docs/', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/docs/swagger-ui-init.js', initScript);
  for (const [file, contentType] of Object.entries(DOCS_ASSETS)) {
    router.get(`/docs/${file}`, (_req, res) => {
      res.type(contentType).sendFile(path.join(SWAGGER_UI_DIST, file), { maxAge: '1h' });
    });
  }
}

export function opsRouter(deps: { db: Database; metrics: Metrics }): Router {
  const router = exactRouter();
  const document = buildOpenApiDocument();
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
  docsRoutes(router, document);
  return router;
}
