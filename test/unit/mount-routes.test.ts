import express, { Router } from 'express';
import supertest from 'supertest';
import { exactRouter, mountRoutes } from '../../src/http/router';

/** A router of orders routes, mounted through mountRoutes, in an app that answers 404 past it. */
function appWith(router: express.Router) {
  const app = express();
  app.use(mountRoutes(router));
  app.use((_req, res) => res.status(404).json({ fellThrough: true }));
  return app;
}

function ordersRouter() {
  const router = exactRouter();
  router.get('/v1/orders', (_req, res) => res.json({ route: 'list' }));
  router.get('/v1/orders/:id', (req, res) => res.json({ route: 'one', id: req.params.id }));
  router.get('/healthz', (_req, res) => res.json({ route: 'health' }));
  return router;
}

describe('mountRoutes', () => {
  it('hands the router every request its routes can match, with their params', async () => {
    const http = supertest(appWith(ordersRouter()));
    expect((await http.get('/v1/orders')).body).toEqual({ route: 'list' });
    expect((await http.get('/v1/orders/pay_1')).body).toEqual({ route: 'one', id: 'pay_1' });
    expect((await http.get('/healthz')).body).toEqual({ route: 'health' });
  });

  it('does not ask the router about a path none of its routes starts as', async () => {
    const router = ordersRouter();
    const asked = jest.spyOn(router as unknown as { handle: () => void }, 'handle');
    const http = supertest(appWith(router));
    for (const path of ['/v1/catalog', '/v1/checkouts', '/V1/orders', '/metrics']) {
      expect((await http.get(path)).body).toEqual({ fellThrough: true });
    }
    expect(asked).not.toHaveBeenCalled();
    // A path under a route's head is the router's to refuse: strict routing still tells /v1/orders/ apart.
    expect((await http.get('/v1/orders/')).body).toEqual({ fellThrough: true });
    expect(asked).toHaveBeenCalledTimes(1);
  });

  it('asks a case-insensitive router, and one with an escaped character in a route, about every request', async () => {
    const lenient = Router({ strict: true });
    lenient.get('/v1/orders', (_req, res) => res.json({ route: 'list' }));
    expect((await supertest(appWith(lenient)).get('/V1/ORDERS')).body).toEqual({ route: 'list' });
    const escaped = exactRouter();
    escaped.get('/v1/a\\:b', (_req, res) => res.json({ route: 'escaped' }));
    expect((await supertest(appWith(escaped)).get('/v1/a:b')).body).toEqual({ route: 'escaped' });
  });

  it('asks a router that holds middleware about every request', async () => {
    const router = ordersRouter();
    router.use((_req, res, next) => {
      res.setHeader('X-Seen', 'yes');
      next();
    });
    const res = await supertest(appWith(router)).get('/v1/catalog');
    expect(res.headers['x-seen']).toBe('yes');
    expect(res.body).toEqual({ fellThrough: true });
  });
});
