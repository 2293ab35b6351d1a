import { checkout, startTestGateway } from '../support/gateway';

describe('embedded mode (no DATABASE_URL)', () => {
  it('starts, migrates and serves the whole sandbox flow on the embedded PostgreSQL', async () => {
    const test = await startTestGateway({ embedded: true });
    try {
      expect(test.gateway.embeddedDatabase).toBe(true);
      const migrations = await test.gateway.db.many<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id');
      expect(migrations[0].name).toBe('InitialSchema1732700000000');
      const token = await test.token('embedded-alice');
      const created = await checkout(test, token);
      expect(created.status).toBe(201);
      const done = await test.http.post(`/v1/sandbox/payments/${created.body.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
      expect(done.body.status).toBe('succeeded');
      const order = await test.http.get(`/v1/orders/${created.body.id}`).set('Authorization', `Bearer ${token}`);
      expect(order.body.history.map((h: { status: string }) => h.status)).toEqual(['requires_payment', 'succeeded']);
    } finally {
      await test.stop();
    }
  });
});
