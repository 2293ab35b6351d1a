import { checkout, startTestGateway, TestGateway } from '../support/gateway';

/** Refund notices arrive late, twice or out of order; a settled refund never goes back to pending. */
describe('refund notices out of order', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  async function refundedSandboxPayment(user: string) {
    const token = await test.token(user);
    const payment = (await checkout(test, token)).body;
    await test.http.post(`/v1/sandbox/payments/${payment.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
    const refund = await test.gateway.refunds.refund({ paymentId: payment.id, amount: 1000, reason: 'requested_by_customer' });
    expect(refund.status).toBe('succeeded');
    return { token, payment, refund };
  }

  const notice = (paymentId: string, refundId: string, state: 'pending' | 'succeeded' | 'failed', eventId: string) =>
    test.gateway.webhooks.applyEvent('sandbox', {
      kind: 'refund',
      eventId,
      ref: { paymentId },
      refund: { refundId, money: { amount: 1000, currency: 'CNY' }, state },
    });

  const refundRow = (id: string) => test.gateway.db.one<{ status: string }>('SELECT status FROM refunds WHERE id = $1', [id]);

  it('a late pending notice leaves a succeeded refund succeeded, and the payment partially refunded', async () => {
    const { token, payment, refund } = await refundedSandboxPayment('refund-late');
    await notice(payment.id, refund.id, 'pending', 'evt_refund_late_pending');
    expect(await refundRow(refund.id)).toEqual({ status: 'succeeded' });
    const order = (await test.http.get(`/v1/orders/${payment.id}`).set('Authorization', `Bearer ${token}`)).body;
    expect(order).toMatchObject({ status: 'partially_refunded', refunded_amount: 1000 });
    expect(order.refunds).toEqual([expect.objectContaining({ id: refund.id, amount: 1000, status: 'succeeded' })]);
  });

  it('a refund the provider reports as bounced is marked failed and the payment flagged for a person', async () => {
    const { payment, refund } = await refundedSandboxPayment('refund-bounced');
    await notice(payment.id, refund.id, 'failed', 'evt_refund_bounced');
    expect(await refundRow(refund.id)).toEqual({ status: 'failed' });
    const row = await test.gateway.db.one('SELECT status, review_reason FROM payments WHERE id = $1', [payment.id]);
    expect(row).toEqual({ status: 'partially_refunded', review_reason: 'refund_bounced' });
  });

  it('a refund more than what is left is refused before the provider is asked', async () => {
    const { payment } = await refundedSandboxPayment('refund-too-much');
    await expect(test.gateway.refunds.refund({ paymentId: payment.id, amount: 5001, reason: 'requested_by_customer' })).rejects.toMatchObject({
      status: 400,
      code: 'parameter_invalid',
      param: 'amount',
    });
    const rest = await test.gateway.refunds.refund({ paymentId: payment.id, reason: 'requested_by_customer' });
    expect(rest).toMatchObject({ amount: 5000, status: 'succeeded' });
    const row = await test.gateway.db.one('SELECT status, refunded_amount FROM payments WHERE id = $1', [payment.id]);
    expect(row).toEqual({ status: 'refunded', refunded_amount: '6000' });
  });

  it('five concurrent full refunds of one payment refund it once', async () => {
    const token = await test.token('refund-race');
    const payment = (await checkout(test, token)).body;
    await test.http.post(`/v1/sandbox/payments/${payment.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => test.gateway.refunds.refund({ paymentId: payment.id, reason: 'requested_by_customer' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rows = await test.gateway.db.many('SELECT amount, status FROM refunds WHERE payment_id = $1', [payment.id]);
    expect(rows).toEqual([{ amount: '6000', status: 'succeeded' }]);
  });
});
