import { startTestGateway, TestGateway } from '../support/gateway';
import { staffToken } from '../support/staff';

/** Staff and app tokens come from different issuers with different keys: neither opens the other's routes. */
describe('staff authentication', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  const lastAudit = () =>
    test.gateway.db.one<{ actor: string; outcome: string; detail: { code: string }; action: string }>(
      'SELECT actor, outcome, detail, action FROM audit_log ORDER BY seq DESC LIMIT 1',
    );

  it('a staff token with the role opens its route', async () => {
    const response = await test.http.get('/v1/ops/me').set('Authorization', `Bearer ${await staffToken(test, 'sam', ['viewer'])}`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id: 'sam', roles: ['viewer'] });
  });

  it('an app token on an ops route is a 401, recorded in the audit log', async () => {
    const response = await test.http.get('/v1/ops/review-queue').set('Authorization', `Bearer ${await test.token('alice')}`);
    expect([response.status, response.body.error.code]).toEqual([401, 'token_invalid']);
    expect(await lastAudit()).toEqual({ actor: 'unauthenticated', outcome: 'refused', detail: { code: 'token_invalid' }, action: 'review_queue.read' });
  });

  it('a staff token on an app route is a 401', async () => {
    const response = await test.http.get('/v1/orders').set('Authorization', `Bearer ${await staffToken(test, 'sam', ['viewer'])}`);
    expect([response.status, response.body.error.code]).toEqual([401, 'token_invalid']);
  });

  it('an app token dressed up with a roles claim is still refused (other issuer, other key)', async () => {
    const forged = await test.token('mallory', { extra: { roles: ['reviewer'] } });
    expect((await test.http.get('/v1/ops/me').set('Authorization', `Bearer ${forged}`)).status).toBe(401);
  });

  it('an expired staff token is a 401 token_expired, recorded', async () => {
    const expired = await staffToken(test, 'eve', ['reviewer'], -60);
    const response = await test.http.get('/v1/ops/review-queue').set('Authorization', `Bearer ${expired}`);
    expect([response.status, response.body.error.code]).toEqual([401, 'token_expired']);
    expect(await lastAudit()).toMatchObject({ outcome: 'refused', detail: { code: 'token_expired' } });
  });

  it('a missing role is a 403 insufficient_role, recorded with who asked', async () => {
    const response = await test.http.get('/v1/ops/audit').set('Authorization', `Bearer ${await staffToken(test, 'vic', ['viewer', 'unknown_role'])}`);
    expect([response.status, response.body.error.code]).toEqual([403, 'insufficient_role']);
    expect(await lastAudit()).toEqual({ actor: 'vic', outcome: 'refused', detail: { code: 'insufficient_role' }, action: 'audit.read' });
  });

  it('no token at all is a 401 token_missing', async () => {
    const response = await test.http.get('/v1/ops/payments');
    expect([response.status, response.body.error.code]).toEqual([401, 'token_missing']);
  });

  it('the ops routes are in the OpenAPI document, tagged ops, with the staff security scheme', async () => {
    const document = (await test.http.get('/openapi.json')).body;
    const approve = document.paths['/v1/ops/payments/{id}/approve'].post;
    expect(approve.tags).toEqual(['ops']);
    expect(approve.security).toEqual([{ staffToken: [] }]);
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/v1/ops/')).length).toBeGreaterThanOrEqual(11);
  });
});
