import { expireAbandonedPayments } from '../../src/payments/reconcile';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

describe('abandoned checkouts', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  const age = (id: string, hours: number) =>
    test.gateway.db.many(`UPDATE payments SET created_at = now() - make_interval(hours => $2) WHERE id = $1`, [id, hours]);

  it('are canceled once older than the expiry, and can no longer be completed; fresh and paid ones are left alone', async () => {
    const token = await test.token('forgetful');
    const device = aDevice({ id: 'forgetful-phone' });
    const stale = (await checkout(test, token, { device })).body;
    const fresh = (await checkout(test, token, { device })).body;
    const paid = (await checkout(test, token, { device })).body;
    await test.http.post(`/v1/sandbox/payments/${paid.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
    await age(stale.id, 25);
    await age(paid.id, 25);

    const summary = await expireAbandonedPayments(test.gateway, { olderThanSeconds: 24 * 3600 });
    expect(summary).toEqual({ examined: 1, changed: 1, failed: 0 });

    const statusOf = async (id: string) => (await test.http.get(`/v1/orders/${id}`).set('Authorization', `Bearer ${token}`)).body;
    expect((await statusOf(stale.id)).history.map((h: { status: string }) => h.status)).toEqual(['requires_payment', 'canceled']);
    expect((await statusOf(fresh.id)).status).toBe('requires_payment');
    expect((await statusOf(paid.id)).status).toBe('succeeded');
    const late = await test.http.post(`/v1/sandbox/payments/${stale.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
    expect(late.status).toBe(409);

    expect(await expireAbandonedPayments(test.gateway, { olderThanSeconds: 24 * 3600 })).toEqual({ examined: 0, changed: 0, failed: 0 });
  });
});
