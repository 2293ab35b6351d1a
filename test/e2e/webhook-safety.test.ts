import { checkout, startTestGateway, TestGateway } from '../support/gateway';
import { historyOf, postSandboxWebhook } from '../support/sandbox-webhooks';

describe('sandbox webhooks: only genuine, matching events change a payment', () => {
  let test: TestGateway;
  // One user per payment: a single user paying this often would (rightly) trip the velocity rules.
  const ownerToken = new Map<string, string>();

  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  const newPayment = async () => {
    const token = await test.token(`hooked-${ownerToken.size}`);
    const payment = (await checkout(test, token)).body as { id: string; amount: number; currency: string };
    ownerToken.set(payment.id, token);
    return payment;
  };
  const success = (p: { id: string; amount: number; currency: string }, id: string) => ({
    id, type: 'payment.succeeded' as const, paymentId: p.id, amount: p.amount, currency: p.currency,
  });
  const statusOf = async (id: string) =>
    (await test.http.get(`/v1/orders/${id}`).set('Authorization', `Bearer ${ownerToken.get(id)}`)).body.status;

  it.each([
    ['a wrong secret', { secret: 'not-the-sandbox-secret-at-all' }],
    ['a stale timestamp (over 300 s old)', { timestamp: Math.floor(Date.now() / 1000) - 301 }],
    ['a body changed after signing', { body: '{"id":"evt_x","type":"payment.succeeded","data":{"payment_id":"pay_x","amount":1,"currency":"CNY"}}' }],
    ['no signature header', { omitSignature: true }],
  ])('refuses %s with 400 and changes nothing', async (_label, tamper) => {
    const payment = await newPayment();
    const res = await postSandboxWebhook(test, success(payment, `evt_bad_${Math.random().toString(36).slice(2)}`), tamper);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code: 'signature_invalid' });
    expect(await statusOf(payment.id)).toBe('requires_payment');
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment']);
  });

  it('never marks a payment succeeded when the paid amount differs: it is held for review', async () => {
    const payment = await newPayment();
    const res = await postSandboxWebhook(test, { ...success(payment, 'evt_short_paid'), amount: payment.amount - 1 });
    expect(res.status).toBe(200);
    expect(await statusOf(payment.id)).toBe('held_for_review');
    const row = await test.gateway.db.one<{ review_reason: string }>('SELECT review_reason FROM payments WHERE id = $1', [payment.id]);
    expect(row?.review_reason).toBe('amount_mismatch');
  });

  it('never marks a payment succeeded when the currency differs', async () => {
    const payment = await newPayment();
    await postSandboxWebhook(test, { ...success(payment, 'evt_wrong_ccy'), currency: 'USD' });
    expect(await statusOf(payment.id)).toBe('held_for_review');
  });

  it('a late failure after success changes nothing', async () => {
    const payment = await newPayment();
    await postSandboxWebhook(test, success(payment, 'evt_ok_then_late'));
    const late = await postSandboxWebhook(test, { ...success(payment, 'evt_late_failure'), type: 'payment.failed' });
    expect(late.status).toBe(200);
    expect(await statusOf(payment.id)).toBe('succeeded');
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'succeeded']);
    const recorded = await test.gateway.db.one('SELECT outcome FROM webhook_events WHERE event_id = $1', ['evt_late_failure']);
    expect(recorded).toEqual({ outcome: 'recorded' });
  });

  it('a late processing event after success changes nothing', async () => {
    const payment = await newPayment();
    await postSandboxWebhook(test, success(payment, 'evt_ok_then_processing'));
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'payment', eventId: 'evt_late_processing', ref: { paymentId: payment.id }, state: 'processing' });
    expect(await statusOf(payment.id)).toBe('succeeded');
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'succeeded']);
  });

  it('an event for an unknown payment is acknowledged and recorded, not retried forever', async () => {
    const res = await postSandboxWebhook(test, { id: 'evt_unknown', type: 'payment.succeeded', paymentId: 'pay_doesnotexist', amount: 100, currency: 'CNY' });
    expect(res.status).toBe(200);
    expect(await test.gateway.db.one('SELECT outcome FROM webhook_events WHERE event_id = $1', ['evt_unknown'])).toEqual({ outcome: 'unknown_payment' });
  });

  it('is not rate limited per IP: providers send bursts from a few addresses', async () => {
    const limited = await startTestGateway({ env: { RATE_LIMIT_IP_PER_MINUTE: '2' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await postSandboxWebhook(limited, { id: `evt_burst_${i}`, type: 'payment.succeeded', paymentId: 'pay_unknown', amount: 1, currency: 'CNY' });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200]);
      const api = [];
      for (let i = 0; i < 3; i++) api.push((await limited.http.get('/v1/catalog')).status);
      expect(api).toEqual([401, 401, 429]);
    } finally {
      await limited.stop();
    }
  });
});
