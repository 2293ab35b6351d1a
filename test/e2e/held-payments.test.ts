import { currentState } from '../../src/payments/fact-journal';
import { lockPayment } from '../../src/payments/payment';
import { reserveRefund } from '../../src/payments/refunds';
import { approveHeldPayment, rejectHeldPayment } from '../../src/risk/review';
import type { ProviderEvent } from '../../src/providers/types';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';
import { historyOf } from '../support/sandbox-webhooks';

/** Money that arrived but is withheld waits for a person: no provider event releases or loses it. */
describe('held payments, disputes and refund totals', () => {
  let test: TestGateway;
  let buyers = 0;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  const reviewDeps = () => ({ ...test.gateway, onStatusChange: () => undefined });
  const event = (paymentId: string, state: 'succeeded' | 'failed' | 'canceled', amount = 6000): ProviderEvent => ({
    kind: 'payment',
    eventId: `evt_${state}_${Math.random().toString(36).slice(2)}`,
    ref: { paymentId },
    state,
    money: { amount, currency: 'CNY' },
  });
  const apply = (e: ProviderEvent) => test.gateway.webhooks.applyEvent('sandbox', e);

  /** An emulator sends a sandbox payment to review; once paid, it is held. */
  async function heldPayment() {
    const n = buyers++;
    const token = await test.token(`held-buyer-${n}`);
    const payment = (await checkout(test, token, { device: aDevice({ id: `held-phone-${n}`, emulator: true }) })).body;
    expect(payment.risk.decision).toBe('review');
    await apply(event(payment.id, 'succeeded'));
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'held_for_review']);
    return payment as { id: string };
  }

  async function paidPayment() {
    const n = buyers++;
    const token = await test.token(`paid-buyer-${n}`);
    const payment = (await checkout(test, token, { device: aDevice({ id: `paid-phone-${n}` }) })).body as { id: string };
    await apply(event(payment.id, 'succeeded'));
    return payment;
  }

  const row = (id: string) => test.gateway.db.one('SELECT status, refunded_amount FROM payments WHERE id = $1', [id]);

  it('a second success event (Alipay TRADE_FINISHED after TRADE_SUCCESS) does not release a risk hold', async () => {
    const payment = await heldPayment();
    expect((await apply(event(payment.id, 'succeeded'))).outcome).toBe('recorded');
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'held_for_review']);
  });

  it('a late failure or cancel never loses money that is held', async () => {
    const payment = await heldPayment();
    await apply(event(payment.id, 'failed'));
    await apply(event(payment.id, 'canceled'));
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'held_for_review']);
  });

  it('a short-paid payment stays held when a correct success follows', async () => {
    const n = buyers++;
    const token = await test.token(`short-buyer-${n}`);
    const payment = (await checkout(test, token, { device: aDevice({ id: `short-phone-${n}` }) })).body as { id: string };
    expect((await apply(event(payment.id, 'succeeded', 5999))).outcome).toBe('amount_mismatch');
    await apply(event(payment.id, 'succeeded'));
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'held_for_review']);
  });

  it('approve releases a held payment; reject refunds it in full; neither works twice', async () => {
    const approved = await heldPayment();
    expect((await approveHeldPayment(reviewDeps(), approved.id)).status).toBe('succeeded');
    await expect(rejectHeldPayment(reviewDeps(), approved.id)).rejects.toMatchObject({ code: 'invalid_state_transition' });

    const rejected = await heldPayment();
    expect((await rejectHeldPayment(reviewDeps(), rejected.id)).status).toBe('refunded');
    expect(await row(rejected.id)).toEqual({ status: 'refunded', refunded_amount: '6000' });
  });

  it('an approval and a rejection racing: exactly one decides, and a refunded payment is never also released', async () => {
    const payment = await heldPayment();
    const outcomes = await Promise.allSettled([approveHeldPayment(reviewDeps(), payment.id), rejectHeldPayment(reviewDeps(), payment.id)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const history = await historyOf(test, payment.id);
    expect([
      ['requires_payment', 'held_for_review', 'succeeded'],
      ['requires_payment', 'held_for_review', 'refunded'],
    ]).toContainEqual(history);
    const refunds = await test.gateway.db.many('SELECT status FROM refunds WHERE payment_id = $1', [payment.id]);
    expect(refunds).toHaveLength(history.includes('refunded') ? 1 : 0);
  });

  it('a refund during a dispute is still counted, and a won dispute returns the payment to partially refunded', async () => {
    const payment = await paidPayment();
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'dispute', eventId: `evt_dp_${payment.id}`, ref: { paymentId: payment.id }, dispute: 'opened' });
    await test.gateway.webhooks.applyEvent('sandbox', {
      kind: 'refund', eventId: `evt_rf_${payment.id}`, ref: { paymentId: payment.id },
      refund: { providerRefundId: `re_dash_${payment.id}`, money: { amount: 1000, currency: 'CNY' }, state: 'succeeded' },
    });
    expect(await row(payment.id)).toEqual({ status: 'disputed', refunded_amount: '1000' });
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'dispute', eventId: `evt_dw_${payment.id}`, ref: { paymentId: payment.id }, dispute: 'won' });
    expect(await row(payment.id)).toEqual({ status: 'partially_refunded', refunded_amount: '1000' });
  });

  it('a provider total that already includes our pending refund is not counted twice', async () => {
    const payment = await paidPayment();
    await test.gateway.db.transaction(async (tx) => {
      const locked = (await lockPayment(tx, payment.id))!;
      await reserveRefund(tx, locked, await currentState(tx, locked), { amount: 1000, reason: 'test' });
    });
    // A dashboard refund of 500 arrives reported as the running total (Alipay's refund_fee): 1000 of ours + 500.
    await test.gateway.webhooks.applyEvent('sandbox', {
      kind: 'refund', eventId: `evt_total_${payment.id}`, ref: { paymentId: payment.id },
      refund: { money: { amount: 1500, currency: 'CNY' }, state: 'succeeded', totalRefunded: 1500 },
    });
    const outside = await test.gateway.db.many("SELECT amount FROM refunds WHERE payment_id = $1 AND reason = 'provider_initiated'", [payment.id]);
    expect(outside).toEqual([{ amount: '500' }]);
  });

  it('a held payment is refunded only in full, through its rejection', async () => {
    const payment = await heldPayment();
    await expect(test.gateway.refunds.refund({ paymentId: payment.id, amount: 1000, reason: 'goodwill' })).rejects.toMatchObject({
      status: 409,
      code: 'invalid_state_transition',
    });
    expect((await rejectHeldPayment(reviewDeps(), payment.id)).status).toBe('refunded');
  });

  it('a dispute on held money keeps it held, flags it, and stops a rejection from refunding it twice', async () => {
    const payment = await heldPayment();
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'dispute', eventId: `evt_hd_${payment.id}`, ref: { paymentId: payment.id }, dispute: 'opened' });
    expect(await test.gateway.db.one('SELECT status, review_reason FROM payments WHERE id = $1', [payment.id])).toEqual({
      status: 'held_for_review',
      review_reason: 'dispute_opened',
    });
    await expect(rejectHeldPayment(reviewDeps(), payment.id)).rejects.toMatchObject({ code: 'invalid_state_transition' });
    // A "won" for a payment that is not disputed changes nothing: it cannot release the hold.
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'dispute', eventId: `evt_hw_${payment.id}`, ref: { paymentId: payment.id }, dispute: 'won' });
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'held_for_review']);
  });

  it('a dispute that closes before the success arrived proves the money was taken, and kept', async () => {
    const n = buyers++;
    const token = await test.token(`undisputed-${n}`);
    const payment = (await checkout(test, token, { device: aDevice({ id: `undisputed-phone-${n}` }) })).body as { id: string };
    await test.gateway.webhooks.applyEvent('sandbox', { kind: 'dispute', eventId: `evt_uw_${payment.id}`, ref: { paymentId: payment.id }, dispute: 'won' });
    expect(await historyOf(test, payment.id)).toEqual(['requires_payment', 'succeeded']);
  });

  it('every decline counts towards the card-testing rule, not only the first on a payment', async () => {
    const n = buyers++;
    const token = await test.token(`card-tester-${n}`);
    const device = aDevice({ id: `card-tester-phone-${n}` });
    const payment = (await checkout(test, token, { device })).body as { id: string };
    for (let i = 0; i < 3; i++) await apply(event(payment.id, 'failed'));
    let next: { body: { risk: { decision: string } } } | undefined;
    for (let tries = 0; tries < 20 && next?.body.risk.decision !== 'challenge'; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 25)); // failures are counted just after the commit
      next = await checkout(test, token, { device });
    }
    expect(next!.body.risk.decision).toBe('challenge');
  });

  it('money paid on another session than ours is flagged for a person, not taken as this payment', async () => {
    const n = buyers++;
    const token = await test.token(`foreign-${n}`);
    const payment = (await checkout(test, token, { device: aDevice({ id: `foreign-phone-${n}` }) })).body as { id: string };
    const foreign = { ...event(payment.id, 'succeeded'), ref: { paymentId: payment.id, providerRef: 'sbx_some_other_session' } } as ProviderEvent;
    expect((await apply(foreign)).outcome).toBe('foreign_session');
    expect(await test.gateway.db.one('SELECT status, review_reason FROM payments WHERE id = $1', [payment.id])).toEqual({
      status: 'requires_payment',
      review_reason: 'foreign_session_paid',
    });
  });

  it('a refund we took for failed is recorded when the provider says it went through', async () => {
    const payment = await paidPayment();
    await test.gateway.db.many("INSERT INTO refunds (id, payment_id, amount, currency, status, reason) VALUES ($1, $2, 700, 'CNY', 'failed', 'test')", [
      `re_late_${payment.id.slice(4)}`, payment.id,
    ]);
    await test.gateway.webhooks.applyEvent('sandbox', {
      kind: 'refund', eventId: `evt_late_ok_${payment.id}`, ref: { paymentId: payment.id },
      refund: { refundId: `re_late_${payment.id.slice(4)}`, money: { amount: 700, currency: 'CNY' }, state: 'succeeded' },
    });
    expect(await row(payment.id)).toEqual({ status: 'partially_refunded', refunded_amount: '700' });
  });
});

describe('a blocklist lookup that fails inside the checkout transaction', () => {
  it('applies the fail mode instead of failing the checkout', async () => {
    const test = await startTestGateway();
    try {
      // Make the lookup fail at SQL level, as an outage of that table would.
      await test.gateway.db.many('ALTER TABLE risk_blocklist RENAME TO risk_blocklist_gone');
      const res = await checkout(test, await test.token('outage-buyer'), { device: aDevice({ id: 'outage-phone' }) });
      expect(res.status).toBe(201);
      expect(res.body.risk.decision).toBe('review');
    } finally {
      await test.gateway.db.many('ALTER TABLE risk_blocklist_gone RENAME TO risk_blocklist').catch(() => undefined);
      await test.stop();
    }
  });
});
