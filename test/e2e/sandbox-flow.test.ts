import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

describe('sandbox checkout → webhook → order history', () => {
  let test: TestGateway;
  let alice: string;

  beforeAll(async () => {
    test = await startTestGateway();
    alice = await test.token('alice');
  });
  afterAll(() => test.stop());

  const complete = (id: string, outcome: 'succeeded' | 'failed', token = alice) =>
    test.http.post(`/v1/sandbox/payments/${id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome });

  it('lists the catalog with server-side prices', async () => {
    const res = await test.http.get('/v1/catalog').set('Authorization', `Bearer ${alice}`);
    expect(res.status).toBe(200);
    expect(res.body.object).toBe('list');
    expect(res.body.data).toContainEqual({ sku: 'gems_600', name: '600 Gems', category: 'currency', amount: 6000, currency: 'CNY' });
  });

  it('creates a payment priced from the catalog and completes it through the signed sandbox webhook', async () => {
    const created = await checkout(test, alice, { quantity: 2 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: 'payment',
      status: 'requires_payment',
      amount: 12000,
      currency: 'CNY',
      item: { sku: 'gems_600', name: '600 Gems', quantity: 2 },
      provider: 'sandbox',
      refunded_amount: 0,
      next_action: { type: 'sandbox_confirm' },
    });
    expect(created.body.id).toMatch(/^pay_/);
    expect(created.body.next_action.complete_url).toContain(`/v1/sandbox/payments/${created.body.id}/complete`);

    const completed = await complete(created.body.id, 'succeeded');
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({ id: created.body.id, status: 'succeeded', next_action: null });

    const list = await test.http.get('/v1/orders').set('Authorization', `Bearer ${alice}`);
    expect(list.status).toBe(200);
    expect(list.body.data.find((p: { id: string }) => p.id === created.body.id)).toMatchObject({ status: 'succeeded' });

    const detail = await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${alice}`);
    expect(detail.status).toBe(200);
    expect(detail.body.history.map((h: { status: string }) => h.status)).toEqual(['requires_payment', 'succeeded']);
    expect(detail.body).toMatchObject({ refunds: [], after_sales: [] });
  });

  it('records a failed outcome, and a failed payment cannot be completed again as if new', async () => {
    const created = await checkout(test, alice);
    const failed = await complete(created.body.id, 'failed');
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe('failed');
    const detail = await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${alice}`);
    expect(detail.body.history.map((h: { status: string }) => h.status)).toEqual(['requires_payment', 'failed']);
    const again = await complete(created.body.id, 'succeeded');
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ type: 'conflict', code: 'invalid_state_transition' });
  });

  it('ignores a client-sent price: the field is refused and the catalog price stands', async () => {
    const res = await checkout(test, alice, { amount: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'parameter_unknown', param: 'amount' });
  });

  it('pages the order list newest first', async () => {
    const bob = await test.token('bob-pages');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await checkout(test, bob, { device: aDevice({ id: 'bob-phone' }) })).body.id);
    const first = await test.http.get('/v1/orders?limit=2').set('Authorization', `Bearer ${bob}`);
    expect(first.body.data.map((p: { id: string }) => p.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.has_more).toBe(true);
    const second = await test.http.get(`/v1/orders?limit=2&starting_after=${ids[1]}`).set('Authorization', `Bearer ${bob}`);
    expect(second.body.data.map((p: { id: string }) => p.id)).toEqual([ids[0]]);
    expect(second.body.has_more).toBe(false);
  });

  it('pages without skipping payments created within the same millisecond', async () => {
    const carol = await test.token('carol-pages');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await checkout(test, carol, { device: aDevice({ id: 'carol-phone' }) })).body.id);
    const stamps = ['2026-11-27 10:00:00.123456+00', '2026-11-27 10:00:00.123200+00', '2026-11-27 10:00:00.100000+00'];
    for (const [i, id] of ids.entries()) await test.gateway.db.many('UPDATE payments SET created_at = $2 WHERE id = $1', [id, stamps[i]]);
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 4; page++) {
      const res = await test.http.get(`/v1/orders?limit=1${cursor}`).set('Authorization', `Bearer ${carol}`);
      seen.push(...res.body.data.map((p: { id: string }) => p.id));
      if (!res.body.has_more) break;
      cursor = `&starting_after=${res.body.data[0].id}`;
    }
    expect(seen).toEqual(ids);
  });

  it("hides a user's payments from everyone else (404, as if missing)", async () => {
    const created = await checkout(test, alice);
    const mallory = await test.token('mallory');
    const seen = await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${mallory}`);
    expect(seen.status).toBe(404);
    expect(seen.body.error).toMatchObject({ type: 'not_found', code: 'resource_missing' });
    const acted = await complete(created.body.id, 'succeeded', mallory);
    expect(acted.status).toBe(404);
    const list = await test.http.get('/v1/orders').set('Authorization', `Bearer ${mallory}`);
    expect(list.body.data).toEqual([]);
    const untouched = await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${alice}`);
    expect(untouched.body.status).toBe('requires_payment');
  });
});
