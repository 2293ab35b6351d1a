import { checkout, startTestGateway, TestGateway } from '../support/gateway';
import { serverUrl } from '../support/databases';

describe('operations endpoints and HTTP hygiene', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  it('answers liveness and readiness', async () => {
    expect((await test.http.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await test.http.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('exposes Prometheus metrics, including request timings', async () => {
    await test.http.get('/healthz');
    const res = await test.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('kalos_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}');
  });

  it('publishes an OpenAPI document generated from the validation schemas', async () => {
    const res = await test.http.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/v1/checkouts', '/v1/orders', '/v1/orders/{id}', '/v1/catalog', '/v1/webhooks/{provider}']));
    const checkout = res.body.components.schemas.CheckoutRequest;
    expect(checkout.required).toEqual(expect.arrayContaining(['sku', 'provider', 'device']));
    expect(checkout.properties.quantity).toMatchObject({ minimum: 1, maximum: 99 });
    expect(checkout.additionalProperties).toBe(false);
  });

  it('serves a human-readable API page without any CDN', async () => {
    const res = await test.http.get('/docs/').redirects(1);
    expect(res.status).toBe(200);
    expect(res.text).toContain('kalos-pay API');
    expect(res.text).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
  });

  it('serves the API page’s own assets and nothing else of swagger-ui-dist', async () => {
    expect((await test.http.get('/docs')).headers.location).toBe('/docs/');
    const page = await test.http.get('/docs/');
    const assets = [...page.text.matchAll(/(?:href|src)=["']\.\/([^"']+)["']/g)].map((match) => match[1]);
    expect(assets.sort()).toEqual(['favicon-16x16.png', 'favicon-32x32.png', 'swagger-ui-bundle.js', 'swagger-ui-init.js', 'swagger-ui-standalone-preset.js', 'swagger-ui.css']);
    for (const asset of assets) expect([asset, (await test.http.get(`/docs/${asset}`)).status]).toEqual([asset, 200]);
    expect((await test.http.get('/docs/swagger-ui-init.js')).text).toContain('"title": "kalos-pay"');
    for (const file of ['index.html', 'oauth2-redirect.html', 'oauth2-redirect.js', 'README.md', 'package.json', 'LICENSE', 'swagger-initializer.js', 'swagger-ui-bundle.js.map', 'swagger-ui.css.map', 'swagger-ui-es-bundle.js', 'swagger-ui.js', 'absolute-path.js']) {
      expect([file, (await test.http.get(`/docs/${file}`)).status]).toEqual([file, 404]);
    }
  });

  it('matches paths exactly: another case or a trailing slash is a 404', async () => {
    const token = await test.token('exact-router');
    expect((await test.http.get('/metrics')).status).toBe(200);
    expect((await test.http.get('/v1/catalog').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    for (const path of ['/METRICS', '/Metrics', '/HEALTHZ', '/healthz/', '/metrics/', '/OPENAPI.JSON', '/V1/catalog', '/v1/Catalog', '/v1/catalog/', '/v1/orders/', '/DOCS/']) {
      const res = await test.http.get(path).set('Authorization', `Bearer ${token}`);
      expect([path, res.status, res.body.error?.code]).toEqual([path, 404, 'resource_missing']);
    }
    const shouting = await test.http.post('/V1/WEBHOOKS/sandbox').set('Content-Type', 'application/json').send('{}');
    expect([shouting.status, shouting.body.error?.code]).toEqual([404, 'resource_missing']);
  });

  it('marks every /v1 answer Cache-Control: no-store, errors included', async () => {
    const token = await test.token('no-cache-player');
    const created = await checkout(test, token);
    expect(created.status).toBe(201);
    const answers = [
      created,
      await test.http.get('/v1/catalog').set('Authorization', `Bearer ${token}`),
      await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`),
      await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${token}`),
      await test.http.get(`/v1/orders/${created.body.id}/decision`).set('Authorization', `Bearer ${token}`),
      await test.http.get('/v1/orders'),
      await test.http.get('/v1/nothing-here'),
    ];
    expect(answers.map((res) => [res.status, res.headers['cache-control']])).toEqual([
      [201, 'no-store'],
      [200, 'no-store'],
      [200, 'no-store'],
      [200, 'no-store'],
      [200, 'no-store'],
      [401, 'no-store'],
      [404, 'no-store'],
    ]);
  });

  it('puts X-Request-Id on every response, sets no cookie and sends the helmet headers', async () => {
    for (const path of ['/healthz', '/v1/orders', '/nowhere']) {
      const res = await test.http.get(path);
      expect(res.headers['x-request-id']).toMatch(/^req_/);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

(serverUrl() ? describe : describe.skip)('readiness without a database', () => {
  it('answers 503 once the database is gone, and liveness stays up', async () => {
    const test = await startTestGateway();
    const dbName = new URL(test.sharedEnv.DATABASE_URL).pathname.slice(1);
    const { withAdmin } = await import('../support/databases');
    await withAdmin((admin) => admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`));
    const ready = await test.http.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'database_unreachable' });
    expect((await test.http.get('/healthz')).status).toBe(200);
    await test.stop();
  });
});
