import { aDevice, startTestGateway, TestGateway, newKey } from '../support/gateway';

describe('personal data at rest', () => {
  let test: TestGateway;
  const userId = 'alice-plaintext-7781';
  const deviceId = 'device-plain-5512';
  const model = 'Pixel-Secret-9';
  const ip = '203.0.113.77';

  beforeAll(async () => {
    test = await startTestGateway({ env: { TRUST_PROXY: '1' } });
    const token = await test.token(userId);
    const created = await test.http
      .post('/v1/checkouts')
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', newKey())
      .set('X-Forwarded-For', ip)
      .send({ sku: 'gems_60', provider: 'sandbox', device: aDevice({ id: deviceId, model }), location: { lat: 31.2304, lon: 121.4737 } });
    expect(created.status).toBe(201);
    const done = await test.http
      .post(`/v1/sandbox/payments/${created.body.id}/complete`)
      .set('Authorization', `Bearer ${token}`)
      .set('X-Forwarded-For', ip)
      .send({ outcome: 'succeeded' });
    expect(done.body.status).toBe('succeeded');
  });
  afterAll(() => test.stop());

  it('no table holds the user id, device id, device model, IP or location in plaintext', async () => {
    const tables = await test.gateway.db.many<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['payments', 'payment_status_history', 'idempotency_keys', 'webhook_events', 'subject_keys']));
    let rowsScanned = 0;
    for (const { table_name } of tables) {
      const rows = await test.gateway.db.many<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
      rowsScanned += rows.length;
      for (const { row } of rows) {
        for (const secret of [userId, deviceId, model, ip, '31.2304', '121.4737']) expect(row).not.toContain(secret);
      }
    }
    expect(rowsScanned).toBeGreaterThan(4);
  });

  it('keeps them as AES-GCM ciphertext that the owner’s data key opens, bound to its column', async () => {
    const row = await test.gateway.db.one<{ user_hash: string; user_id_enc: string; device_enc: string; ip_enc: string }>(
      'SELECT user_hash, user_id_enc, device_enc, ip_enc FROM payments LIMIT 1',
    );
    const { vault, db } = test.gateway;
    expect(row!.user_hash).toBe(vault.userHash(userId));
    expect(await vault.decrypt(db, row!.user_hash, 'payments.user_id', row!.user_id_enc)).toBe(userId);
    expect(JSON.parse(await vault.decrypt(db, row!.user_hash, 'payments.device', row!.device_enc))).toMatchObject({ id: deviceId, model });
    expect(await vault.decrypt(db, row!.user_hash, 'payments.ip', row!.ip_enc)).toBe(ip);
    await expect(vault.decrypt(db, row!.user_hash, 'payments.ip', row!.user_id_enc)).rejects.toThrow();
  });

  it('keeps the accounting fields readable', async () => {
    const row = await test.gateway.db.one('SELECT amount, currency, sku, item_name, status FROM payments LIMIT 1');
    expect(row).toEqual({ amount: '600', currency: 'CNY', sku: 'gems_60', item_name: '60 Gems', status: 'succeeded' });
  });
});
