import fc from 'fast-check';
import { derivePaymentState, LifecycleContext, PaymentFact } from '../../src/payments/lifecycle';
import type { PaymentStatus } from '../../src/payments/status';
import { AMOUNT, context, fact, money } from './lifecycle-cases';

/**
 * Properties of the lifecycle over random fact sets drawn from realistic provider sequences: a session
 * that is tried, declined, paid (sometimes on a wrong amount or another session), canceled; our expiry,
 * step-up and a person's decision; up to three refunds reported in pieces (our request, the provider's
 * pending / succeeded / failed, its running total); a dispute opened and maybe closed.
 */
const RUNS = Number(process.env.LIFECYCLE_PROPERTY_RUNS ?? 1000);

const minute = (n: number) => new Date(Date.UTC(2026, 11, 1, 10, n));

const arbContext: fc.Arbitrary<LifecycleContext> = fc
  .record({ riskDecision: fc.constantFrom('allow', 'review', 'challenge', 'block' as const), manual: fc.boolean() })
  .map(({ riskDecision, manual }) => context({ riskDecision, captureMethod: riskDecision === 'review' && manual ? 'manual' : 'automatic' }));

/** A payer's attempts: tried, declined, tried again, looked at while nothing happened. */
const arbAttemptFacts: fc.Arbitrary<PaymentFact[]> = fc.subarray([
  fact('pending', 'session:pending', { occurredAt: minute(0) }),
  fact('processing', 'session:processing', { occurredAt: minute(1) }),
  fact('failed', 'session:failed', { occurredAt: minute(2) }),
  fact('processing', 'session:processing-again', { occurredAt: minute(3) }),
  fact('failed', 'session:failed-again', { occurredAt: minute(3) }),
]);

/** Money on the session, and the session closing. */
const arbMoneyFacts = (ctx: LifecycleContext): fc.Arbitrary<PaymentFact[]> =>
  fc.subarray([
    ctx.captureMethod === 'manual'
      ? fact('authorized', 'session:authorized', { money: money(), sessionRef: 'sess_ours', occurredAt: minute(4) })
      : fact('paid', 'session:paid', { money: money(), sessionRef: 'sess_ours', occurredAt: minute(4) }),
    fact('paid', 'session:paid-reconciled', { money: money(), occurredAt: minute(5) }),
    fact('paid', 'session:paid-wrong-amount', { money: money(AMOUNT - 1), sessionRef: 'sess_ours', occurredAt: minute(4) }),
    fact('paid', 'session:paid-elsewhere', { money: money(), sessionRef: 'sess_other', occurredAt: minute(4) }),
    fact('canceled', 'session:canceled', { occurredAt: minute(6) }),
  ]);

const arbOwnFacts: fc.Arbitrary<PaymentFact[]> = fc.subarray([
  fact('expired', 'gateway:expired'),
  fact('verified', 'risk:step_up_passed'),
  fact('verification_failed', 'risk:step_up_failed'),
  fact('approved', 'review:approved'),
  fact('rejected', 'review:rejected'),
]);

/**
 * Up to three refunds whose amounts never add up past the payment, each reported in some of its pieces,
 * and maybe a refund of everything made in the provider's dashboard, known only from the provider's total.
 */
const arbNamedRefundFacts: fc.Arbitrary<PaymentFact[]> = fc
  .array(
    fc.record({
      share: fc.integer({ min: 1, max: 333 }),
      ours: fc.boolean(),
      words: fc.subarray(['pending', 'succeeded', 'failed'] as const),
      total: fc.boolean(),
      askedAt: fc.integer({ min: 0, max: 5 }),
    }),
    { maxLength: 3 },
  )
  .map((refunds) => {
    let reported = 0;
    return refunds.flatMap((refund, i) => {
      const amount = refund.share;
      const ids = { providerRefundId: `re_prov_${i}`, ...(refund.ours ? { refundId: `re_ours_${i}` } : {}) };
      const asked = minute(refund.askedAt);
      const facts = refund.ours ? [fact('refund_requested', `refund:${i}:requested`, { refundId: `re_ours_${i}`, money: money(amount), occurredAt: asked })] : [];
      for (const [n, word] of refund.words.entries()) {
        const succeeded = word === 'succeeded';
        if (succeeded) reported += amount;
        facts.push(
          fact(`refund_${word}`, `refund:${i}:${word}`, {
            ...ids,
            money: money(amount),
            occurredAt: minute(refund.askedAt + n + 1),
            ...(succeeded && refund.total ? { reportedRefundTotal: reported } : {}),
          }),
        );
      }
      return facts;
    });
  });

const arbRefundFacts = fc
  .tuple(arbNamedRefundFacts, fc.boolean())
  .map(([named, dashboard]) =>
    dashboard ? [...named, fact('refund_succeeded', 'refund:dashboard-total', { reportedRefundTotal: AMOUNT, occurredAt: minute(9) })] : named,
  );

const arbDisputeFacts: fc.Arbitrary<PaymentFact[]> = fc.subarray([
  fact('dispute_opened', 'dispute:opened', { disputeId: 'dp_1' }),
  fact('dispute_won', 'dispute:won', { disputeId: 'dp_1' }),
  fact('dispute_lost', 'dispute:lost', { disputeId: 'dp_1' }),
]).filter((facts) => !(facts.some((f) => f.kind === 'dispute_won') && facts.some((f) => f.kind === 'dispute_lost')));

const none = fc.constant<PaymentFact[]>([]);
/** Half the histories stay small (a payer's attempts and our own words), so the unpaid paths are explored as well as the paid ones. */
const sometimes = (arbitrary: fc.Arbitrary<PaymentFact[]>) => fc.oneof(none, arbitrary);

const arbScenario = arbContext.chain((ctx) =>
  fc
    .tuple(arbAttemptFacts, sometimes(arbMoneyFacts(ctx)), sometimes(arbOwnFacts), sometimes(arbRefundFacts), sometimes(arbDisputeFacts))
    .map((parts) => ({ ctx, facts: parts.flat() })),
);

/** The same facts in another order, some of them delivered more than once. */
const arbRedelivery = (facts: PaymentFact[]) =>
  fc.tuple(fc.shuffledSubarray(facts, { minLength: facts.length, maxLength: facts.length }), fc.subarray(facts)).chain(([order, again]) =>
    fc.shuffledSubarray([...order, ...again.map((f) => ({ ...f }))], { minLength: order.length + again.length, maxLength: order.length + again.length }),
  );

const UNPAID: readonly PaymentStatus[] = ['requires_verification', 'requires_payment', 'processing', 'failed', 'canceled', 'blocked'];
const ownMoney = (facts: PaymentFact[]) => facts.some((f) => f.kind === 'paid' && f.sessionRef !== 'sess_other' && f.money?.amount === AMOUNT);

describe('the payment lifecycle, as properties over random provider histories', () => {
  it('every order and every duplication of the same facts gives the same state', () => {
    fc.assert(
      fc.property(
        arbScenario.chain((scenario) => arbRedelivery(scenario.facts).map((redelivered) => ({ ...scenario, redelivered }))),
        ({ ctx, facts, redelivered }) => {
          expect(derivePaymentState(redelivered, ctx)).toEqual(derivePaymentState(facts, ctx));
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('the refunded total never exceeds the captured amount, nor the captured amount the payment', () => {
    fc.assert(
      fc.property(arbScenario, ({ ctx, facts }) => {
        const state = derivePaymentState(facts, ctx);
        expect(state.refundedAmount).toBeLessThanOrEqual(state.capturedAmount);
        expect(state.capturedAmount).toBeLessThanOrEqual(ctx.amount);
        expect(state.refundableAmount).toBeGreaterThanOrEqual(0);
        expect(state.refundableAmount).toBeLessThanOrEqual(state.capturedAmount - state.refundedAmount);
      }),
      { numRuns: RUNS },
    );
  });

  it('a payment whose money went back in full is never succeeded, nor partially refunded', () => {
    fc.assert(
      fc.property(arbScenario, ({ ctx, facts }) => {
        const state = derivePaymentState(facts, ctx);
        if (state.refundedAmount === ctx.amount) expect(['refunded', 'disputed', 'held_for_review']).toContain(state.status);
        if (state.status === 'succeeded') expect(state.refundedAmount).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('a paid payment is never unpaid again: never canceled, failed or waiting, whatever a person or the provider said', () => {
    fc.assert(
      fc.property(arbScenario, ({ ctx, facts }) => {
        if (!ownMoney(facts)) return;
        expect(UNPAID).not.toContain(derivePaymentState(facts, ctx).status);
      }),
      { numRuns: RUNS },
    );
  });

  it('learning more facts never unsees money: captured stays captured and the refunded total only grows', () => {
    fc.assert(
      fc.property(
        arbScenario.chain((scenario) => fc.subarray(scenario.facts).map((known) => ({ ...scenario, known }))),
        ({ ctx, facts, known }) => {
          const before = derivePaymentState(known, ctx);
          const after = derivePaymentState(facts, ctx);
          if (before.capturedAmount > 0) expect(after.capturedAmount).toBe(before.capturedAmount);
          expect(after.refundedAmount).toBeGreaterThanOrEqual(before.refundedAmount);
          if (before.capturedAmount > 0) expect(UNPAID).not.toContain(after.status);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
