import { checkout, startTestGateway, TestGateway } from '../support/gateway';

type LogLine = { level: number; msg: string; requestId?: string; err?: Record<string, unknown> };

describe('a failed query in the logs', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway({ captureLogs: true });
  });
  afterAll(() => test.stop());

  it('carries the error class, SQLSTATE and request id, never the SQL, its parameters or the caller’s hashes', async () => {
    const token = await test.token('logged-player');
    // A constraint the checkout's INSERT breaks: the query fails with the payer's blind-index hash,
    // device hash and ciphertexts among its parameters.
    await test.gateway.db.many("ALTER TABLE payments ADD CONSTRAINT no_gems_today CHECK (sku <> 'gems_600') NOT VALID");
    try {
      const before = test.logs.length;
      const res = await checkout(test, token);
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('internal_error');

      const written = test.logs.slice(before);
      const errors = written.map((line) => JSON.parse(line) as LogLine).filter((line) => line.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ requestId: res.body.error.request_id, err: { type: 'DatabaseError', code: '23514' } });
      expect(Object.keys(errors[0].err!).sort()).toEqual(['code', 'stack', 'type']);
      // The request's own line says which request failed, at info: the error line above is the one alert.
      expect(written.map((line) => JSON.parse(line) as LogLine & { errorCode?: string }).find((line) => line.msg === 'request errored')).toMatchObject({ level: 30, requestId: res.body.error.request_id, errorCode: 'internal_error' });

      const text = written.join('\n');
      for (const secret of [test.gateway.vault.userHash('logged-player'), 'INSERT INTO', 'parameters', 'no_gems_today', 'logged-player']) {
        expect(text).not.toContain(secret);
      }
    } finally {
      await test.gateway.db.many('ALTER TABLE payments DROP CONSTRAINT no_gems_today');
    }
  });
});
