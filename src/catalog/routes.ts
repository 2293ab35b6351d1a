import { RequestHandler, Router } from 'express';
import { bearerAuth, commonErrors, listSchema, openapi } from '../http/openapi-registry';
import type { Catalog } from './catalog';
import { catalogItemSchema } from './catalog';
import { exactRouter } from '../http/router';

const catalogList = listSchema(catalogItemSchema.openapi('CatalogItem'), 'CatalogList');

openapi.registerPath({
  method: 'get',
  path: '/v1/catalog',
  operationId: 'listCatalog',
  tags: ['catalog'],
  summary: 'List purchasable items with their server-side prices',
  security: [{ [bearerAuth.name]: [] }],
  responses: { 200: { description: 'The catalog', content: { 'application/json': { schema: catalogList } } }, ...commonErrors },
});

export function catalogRouter(catalog: Catalog, authenticate: RequestHandler[]): Router {
  const router = exactRouter();
  router.get('/v1/catalog', ...authenticate, (_req, res) => {
    res.json({ object: 'list', data: catalog.items, has_more: false });
  });
  return router;
}
