import express from 'express';
import supertest from 'supertest';
import { createLogger } from '../../src/http/logger';
import { errorHandler } from '../../src/http/errors';
import { requestId } from '../../src/http/request-id';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/databases';
import { checkout, startTestGateway, TestGateway } from '../support/gateway';
import { startTcpProxy, TcpProxy } from '../support/tcp-proxy';

const lines = (logs: string[]) => logs.map((line) => JSON.parse(line) as { level: number; msg: string; err?: Record<string, unknown> });

/**
 * Input validation keeps bad values away from SQL; these are the errors PostgreSQL raises when one gets
 * through anyway, raised for real on the test database and handed to the gateway's error middleware.
 */
describe('a value PostgreSQL refuses is the caller’s mistake, not a 500', () => {
  let test: TestGateway;
  let http: ReturnType<typeof supertest>;
  const logs: string[] = [];

  beforeAll(async () => {
    test = await startTestGateway();
    const app = express();
    app.use(requestId);
    app.get('/probe/:query', async (req, res) => {
      const probes: Record<string, [string, unknown[]]> = {
        nul: ['SELECT $1::text AS v', ['pay_\u0000x']],
        not_a_number: ['SELECT $1::int AS v', ['12abc']],
        out_of_range: ['SELECT $1::smallint AS v', ['99999']],
        not_a_date: ['SELECT $1::date AS v', ['the 32nd of May']],
        no_such_table: ['SELECT * FROM no_such_table WHERE id = $1', ['x']],
      };
      const [text, params] = probes[String(req.params.query)];
      res.json(await test.gateway.db.one(text, params));
    });
    app.use(errorHandler(createLogger('debug', { write: (line: string) => void logs.push(line) })));
    http = supertest(app);
  });
  afterAll(() => test.stop());

  it.each(['nul', 'not_a_number', 'out_of_range', 'not_a_date'])('answers 400 parameter_invalid for a data exception (%s)', async (probe) => {
    const res = await http.get(`/probe/${probe}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid' });
    expect(res.body.error.request_id).toBe(res.headers['x-request-id']);
  });

  it('logs the SQLSTATE, never the refused value', async () => {
    const before = logs.length;
    await http.get('/probe/not_a_number');
    const logged = lines(logs.slice(before));
    expect(logged).toHaveLength(1);
    expect(logged[0].err).toMatchObject({ type: 'DatabaseError', code: '22P02' });
    expect(logs.slice(before).join('\n')).not.toContain('12abc');
  });

  it('keeps faults of ours (a query on a table that does not exist) a 500', async () => {
    const res = await http.get('/probe/no_such_table');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
  });
});

(serverUrl() ? describe : describe.skip)('while PostgreSQL is unreachable', () => {
  let proxy: TcpProxy;
  let databaseUrl: string;
  let test: TestGateway;
  let token: string;

  beforeAll(async () => {
    const direct = new URL((await createTestDatabase())!);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    databaseUrl = direct.toString();
    const proxied = new URL(databaseUrl);
    proxied.port = String(proxy.port);
    test = await startTestGateway({ env: { DATABASE_URL: proxied.toString(), DATABASE_CONNECT_TIMEOUT_MS: '500' }, captureLogs: true });
    token = await test.token('patient-player');
  });
  afterAll(async () => {
    await test.stop();
    await proxy.close();
    await dropTestDatabase(databaseUrl);
  });

  const outageLines = () => lines(test.logs).filter((line) => /^database (unavailable|available again)/.test(line.msg));

  it('answers 503 service_unavailable with Retry-After, logs the outage once, and serves again when it is back', async () => {
    expect((await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const before = test.logs.length;

    await proxy.down();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`));
    answers.push(await checkout(test, token));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ type: 'api_error', code: 'service_unavailable' });
      expect(res.headers['retry-after']).toBe('5');
    }
    expect((await test.http.get('/readyz')).status).toBe(503);

    await proxy.up();
    expect((await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`)).status).toBe(200);

    const during = lines(test.logs.slice(before));
    expect(outageLines().map((line) => [line.level, line.msg.split(':')[0]])).toEqual([
      [40, 'database unavailable'],
      [30, 'database available again'],
    ]);
    expect(during.filter((line) => line.level >= 50)).toEqual([]);
    expect(test.logs.slice(before).join('\n')).not.toMatch(/\bat \w+ \(/);
  });

  it('answers 503 within the connect timeout when the server accepts connections and never answers', async () => {
    await proxy.stall();
    try {
      const started = Date.now();
      const res = await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('service_unavailable');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await proxy.up();
    }
    expect((await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });
});
