import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { startTestGateway, TestGateway } from '../support/gateway';

/**
 * /openapi.json as a code generator sees it: a typed client generated from the live document (with
 * openapi-typescript, as an app team would) must compile against code that uses it the way an app does,
 * and refuse code that gets the API wrong.
 */
const root = path.resolve(__dirname, '../..');

/** The TypeScript errors of `usage` compiled next to the generated `api.ts`, one line each. */
function typeErrors(dir: string, usage: string): string[] {
  const file = path.join(dir, `usage-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, usage);
  const program = ts.createProgram([file], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: [] });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
}

describe('a typed client generated from /openapi.json', () => {
  let test: TestGateway;
  let document: Record<string, any>;
  let dir: string;
  beforeAll(async () => {
    test = await startTestGateway();
    document = (await test.http.get('/openapi.json')).body;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-openapi-'));
    fs.writeFileSync(path.join(dir, 'openapi.json'), JSON.stringify(document));
    execFileSync(process.execPath, [path.join(root, 'node_modules/openapi-typescript/bin/cli.js'), path.join(dir, 'openapi.json'), '--default-non-nullable', 'false', '-o', path.join(dir, 'api.ts')], { stdio: 'pipe' });
  }, 60_000);
  afterAll(async () => {
    await test.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([route, item]) => Object.entries(item as Record<string, any>).map(([method, op]) => ({ route, method, op })));

  it('compiles against an app’s use of it: named operations, typed bodies, headers and error codes', () => {
    const usage = `
      import type { operations, components } from './api';
      type Checkout = operations['createCheckout'];
      const body: Checkout['requestBody']['content']['application/json'] = {
        sku: 'gems_600', quantity: 1, provider: 'sandbox', device: { id: 'my-phone-1', model: 'iPhone15,2', os: 'iOS', os_version: '17.4' },
      };
      const headers: Checkout['parameters']['header'] = { 'Idempotency-Key': 'order-1' };
      const created: Checkout['responses'][201]['content']['application/json'] = {} as components['schemas']['Payment'];
      const status: 'requires_payment' | 'succeeded' | string = created.status;
      const retryAfter: number | undefined = ({} as Checkout['responses'][409]['headers'])['Retry-After'];
      const requestId: string | undefined = ({} as Checkout['responses'][201]['headers'])['X-Request-Id'];
      const error: components['schemas']['Error'] = ({} as Checkout['responses'][402]['content']['application/json']);
      const page: operations['listOrders']['responses'][200]['content']['application/json'] = { object: 'list', data: [created], has_more: false };
      const limit: number | undefined = ({} as NonNullable<operations['listOrders']['parameters']['query']>).limit;
      const history: string = ({} as operations['getOrder']['responses'][200]['content']['application/json']).history[0].at;
      export { body, headers, status, retryAfter, requestId, error, page, limit, history };
    `;
    expect(typeErrors(dir, usage)).toEqual([]);
  });

  it('refuses code that gets the API wrong (a missing field, a price sent, an unknown operation)', () => {
    const wrong = (statement: string) => typeErrors(dir, `import type { operations } from './api';\n${statement}\nexport {};`);
    expect(wrong(`const b: operations['createCheckout']['requestBody']['content']['application/json'] = { quantity: 1, provider: 'sandbox', device: { id: 'x' } };`)).not.toEqual([]);
    expect(wrong(`const b: operations['createCheckout']['requestBody']['content']['application/json'] = { sku: 'a', provider: 'sandbox', device: { id: 'x' }, price: 1 };`)).not.toEqual([]);
    expect(wrong(`type T = operations['postV1Checkouts'];`)).not.toEqual([]);
  });

  it('names every operation once and tags each with its domain', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const tagNames = document.tags.map((tag: { name: string }) => tag.name);
    for (const { route, method, op } of operations()) expect([method, route, op.tags.every((tag: string) => tagNames.includes(tag))]).toEqual([method, route, true]);
    expect(operations().find(({ route }) => route === '/v1/checkouts')!.op.tags).toEqual(['checkout']);
  });

  it('uses a relative server URL, so /docs can try requests on whatever host served it', () => {
    expect(document.servers).toEqual([{ url: '/' }]);
  });

  it('lists body errors (408, 413, 415) only on operations that take a body', () => {
    for (const { route, method, op } of operations()) {
      const bodyErrors = Object.keys(op.responses).filter((status) => ['408', '413', '415'].includes(status));
      if (!op.requestBody) expect([method, route, bodyErrors]).toEqual([method, route, []]);
    }
    expect(Object.keys(document.paths['/v1/checkouts'].post.responses)).toEqual(expect.arrayContaining(['408', '413', '415']));
  });

  it('gives each error status examples of its own codes, with the type that status carries', () => {
    const examples = (route: string, method: string, status: string) =>
      Object.values(document.paths[route][method].responses[status].content['application/json'].examples as Record<string, { value: { error: { type: string; code: string } } }>).map(
        (example) => [example.value.error.type, example.value.error.code],
      );
    expect(examples('/v1/orders/{id}', 'get', '404')).toEqual([['not_found', 'resource_missing']]);
    expect(examples('/v1/orders', 'get', '401')).toEqual([
      ['authentication_error', 'token_missing'],
      ['authentication_error', 'token_invalid'],
      ['authentication_error', 'token_expired'],
    ]);
    expect(examples('/v1/checkouts', 'post', '409')).toEqual([['idempotency_error', 'idempotency_key_in_use']]);
    expect(examples('/v1/checkouts', 'post', '422')).toEqual([['idempotency_error', 'idempotency_key_reused']]);
    expect(examples('/v1/checkouts', 'post', '402')).toEqual([['payment_error', 'payment_blocked']]);
    expect(examples('/v1/checkouts/{id}/verify', 'post', '400')).toContainEqual(['invalid_request_error', 'verification_failed']);
    expect(examples('/v1/catalog', 'get', '429')).toEqual([['rate_limit_error', 'rate_limited']]);
  });

  it('declares Idempotency-Key, Retry-After and X-Request-Id, and date-time timestamps', () => {
    expect(document.paths['/v1/checkouts'].post.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: true }));
    for (const { route, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Record<string, { headers?: Record<string, unknown> }>)) {
        expect(response.headers?.['X-Request-Id']).toEqual({ $ref: '#/components/headers/RequestId' });
        if (route.startsWith('/v1/') && (status === '429' || status === '503')) expect([route, status, response.headers?.['Retry-After']]).toEqual([route, status, expect.anything()]);
      }
    }
    const timestamps = (schema: any, name = ''): string[] =>
      schema && typeof schema === 'object'
        ? [
            ...(schema.allOf ?? []).flatMap((part: unknown) => timestamps(part, name)),
            ...Object.entries(schema.properties ?? {}).flatMap(([key, value]: [string, any]) =>
              /(^|_)at$/.test(key) ? [`${name}.${key}:${value.format}`] : timestamps(value.items ?? value, `${name}.${key}`),
            ),
          ]
        : [];
    const found = Object.entries(document.components.schemas).flatMap(([name, schema]) => timestamps(schema, name));
    expect(found.length).toBeGreaterThanOrEqual(5);
    expect(found.filter((entry) => !entry.endsWith(':date-time'))).toEqual([]);
  });
});
