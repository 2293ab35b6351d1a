import { derivePaymentState } from '../../src/payments/lifecycle';
import type { PaymentStatus } from '../../src/payments/status';
import { AMOUNT, context, fact, money, NEXT, STARTS } from './lifecycle-cases';

/**
 * The lifecycle's specification, read as a table: each column is a payment in one status (reached by the
 * canonical facts in lifecycle-cases.ts), each row one more fact, each cell the status the payment then
 * has. Because the state is a function of the set of facts, the cell is the same whichever of the two
 * came first. A change to the lifecycle changes this table, deliberately.
 *
 * verify = requires_verification, pay = requires_payment, proc = processing, held = held_for_review,
 * ok = succeeded, fail = failed, cancel = canceled, block = blocked, part = partially_refunded,
 * refd = refunded, disp = disputed.
 */
const SPEC = `
fact                      verify pay    proc   held   ok     fail   cancel block  part   refd   disp
pending                   verify pay    proc   held   ok     fail   cancel block  part   refd   disp
processing                proc   proc   proc   held   ok     proc   cancel block  part   refd   disp
authorized                held   held   held   held   ok     held   held   held   part   refd   disp
paid                      ok     ok     ok     held   ok     ok     held   held   part   refd   disp
paid_wrong_amount         held   held   held   held   held   held   held   held   held   refd   held
paid_foreign_session      verify pay    proc   held   ok     fail   cancel block  part   refd   disp
failed                    fail   fail   fail   held   ok     fail   cancel block  part   refd   disp
canceled                  cancel cancel cancel held   ok     cancel cancel block  part   refd   disp
expired                   cancel cancel cancel held   held   cancel cancel block  held   refd   held
verified                  pay    pay    proc   held   ok     fail   cancel block  part   refd   disp
verification_failed       block  block  block  held   held   block  block  block  held   refd   held
approved                  verify pay    proc   ok     ok     fail   cancel block  part   refd   disp
rejected                  cancel cancel cancel held   held   cancel cancel block  held   refd   disp
refund_requested          verify pay    proc   held   ok     fail   cancel block  part   refd   disp
refund_pending            verify pay    proc   held   ok     fail   cancel block  part   refd   disp
refund_succeeded          part   part   part   held   part   part   held   held   part   refd   disp
refund_succeeded_in_full  refd   refd   refd   refd   refd   refd   refd   refd   refd   refd   disp
refund_failed             verify pay    proc   held   ok     fail   cancel block  part   refd   disp
refund_refused            verify pay    proc   held   ok     fail   cancel block  part   refd   disp
dispute_opened            disp   disp   disp   held   disp   disp   held   held   disp   disp   disp
dispute_won               ok     ok     ok     held   ok     ok     held   held   part   refd   ok
dispute_lost              disp   disp   disp   disp   disp   disp   disp   disp   disp   disp   disp
`;

const FULL: Record<string, PaymentStatus> = {
  verify: 'requires_verification', pay: 'requires_payment', proc: 'processing', held: 'held_for_review', ok: 'succeeded', fail: 'failed',
  cancel: 'canceled', block: 'blocked', part: 'partially_refunded', refd: 'refunded', disp: 'disputed',
};

const [header, ...rows] = SPEC.trim().split('\n').map((line) => line.trim().split(/\s+/));
const columns = header.slice(1).map((short) => FULL[short]);
const cases = rows.flatMap(([factName, ...cells]) => cells.map((cell, i) => [columns[i], factName, FULL[cell]] as const));

describe('the payment lifecycle, status × next fact', () => {
  it('covers every status and every fact kind', () => {
    expect(new Set(columns)).toEqual(new Set(Object.keys(STARTS)));
    expect(rows.map(([name]) => name)).toEqual(Object.keys(NEXT));
    expect(cases).toHaveLength(columns.length * rows.length);
  });

  it.each(cases)('%s + %s → %s, in either order', (start, factName, expected) => {
    const { context: ctx, facts } = STARTS[start];
    const next = NEXT[factName];
    expect(derivePaymentState([...facts, next], ctx).status).toBe(expected);
    expect(derivePaymentState([next, ...facts], ctx).status).toBe(expected);
  });
});

describe('the payment lifecycle, the rest of its state', () => {
  const paid = fact('paid', 'paid', { money: money(), sessionRef: 'sess_ours' });

  it('a refund made in the dashboard, known only from the provider total, appears as one unattributed refund', () => {
    const state = derivePaymentState([paid, fact('refund_succeeded', 'total', { reportedRefundTotal: 400 })], context());
    expect(state).toMatchObject({ status: 'partially_refunded', refundedAmount: 400, refundableAmount: 600 });
    expect(state.refunds).toEqual([{ key: 'unattributed', amount: 400, status: 'succeeded', bounced: false }]);
  });

  it('a provider total that includes our refund still in flight does not count it twice', () => {
    const ours = fact('refund_requested', 'ours', { refundId: 're_ours', money: money(300) });
    const total = fact('refund_succeeded', 'total', { reportedRefundTotal: 500 });
    const state = derivePaymentState([paid, ours, total], context());
    expect(state.refunds).toEqual([
      { key: 'refund:re_ours', refundId: 're_ours', providerRefundId: undefined, amount: 300, status: 'pending', bounced: false },
      { key: 'unattributed', amount: 200, status: 'succeeded', bounced: false },
    ]);
    // 500 of the 1000 are back (ours among them, by the provider's word): 500 may still be refunded.
    expect(state).toMatchObject({ refundedAmount: 500, refundableAmount: 500 });
  });

  it('a refund the provider names by its own id is matched to ours wherever one fact names both', () => {
    const state = derivePaymentState(
      [
        paid,
        fact('refund_succeeded', 'provider-word', { providerRefundId: 're_prov', money: money(300) }),
        fact('refund_requested', 'ours', { refundId: 're_ours', money: money(300) }),
        fact('refund_pending', 'our-call', { refundId: 're_ours', providerRefundId: 're_prov' }),
      ],
      context(),
    );
    expect(state.refunds).toEqual([{ key: 'refund:re_ours', refundId: 're_ours', providerRefundId: 're_prov', amount: 300, status: 'succeeded', bounced: false }]);
  });

  it('a refund that succeeded then bounced keeps the total and flags the payment for a person', () => {
    const state = derivePaymentState(
      [paid, fact('refund_succeeded', 'ok', { providerRefundId: 're_p', money: money(200) }), fact('refund_failed', 'ko', { providerRefundId: 're_p', money: money(200) })],
      context(),
    );
    expect(state).toMatchObject({ status: 'partially_refunded', refundedAmount: 200, reviewReason: 'refund_bounced' });
  });

  it('an authorisation (manual capture) is held until a person captures or voids it', () => {
    const ctx = context({ riskDecision: 'review', captureMethod: 'manual' });
    const authorised = fact('authorized', 'auth', { money: money(), sessionRef: 'sess_ours' });
    expect(derivePaymentState([authorised], ctx)).toMatchObject({ status: 'held_for_review', reviewReason: 'risk_review', authorisedAmount: AMOUNT, capturedAmount: 0 });
    expect(derivePaymentState([authorised, fact('rejected', 'no'), fact('canceled', 'void')], ctx)).toMatchObject({ status: 'canceled', authorisedAmount: 0 });
    expect(derivePaymentState([authorised, fact('paid', 'capture', { money: money() }), fact('approved', 'yes')], ctx)).toMatchObject({
      status: 'succeeded',
      capturedAmount: AMOUNT,
      reviewReason: null,
    });
  });

  it('a held payment with an open dispute says so, and cannot be refunded into a double payment', () => {
    const state = derivePaymentState([paid, fact('dispute_opened', 'dp', { disputeId: 'dp_1' })], context({ riskDecision: 'review' }));
    expect(state).toMatchObject({ status: 'held_for_review', reviewReason: 'dispute_opened', openDispute: true });
  });

  it('the latest of a payer\'s attempts decides between processing and failed; in the same instant, the decline', () => {
    const at = (iso: string) => new Date(iso);
    const declined = fact('failed', 'ko', { occurredAt: at('2026-12-01T10:00:00Z') });
    const retrying = fact('processing', 'again', { occurredAt: at('2026-12-01T10:01:00Z') });
    expect(derivePaymentState([retrying, declined], context()).status).toBe('processing');
    expect(derivePaymentState([declined, { ...retrying, occurredAt: declined.occurredAt }], context()).status).toBe('failed');
  });

  it('a canceled checkout whose session was never confirmed closed asks for the close to be retried', () => {
    expect(derivePaymentState([fact('expired', 'gave-up')], context()).sessionCloseOutstanding).toBe(true);
    expect(derivePaymentState([fact('expired', 'gave-up'), fact('canceled', 'closed')], context()).sessionCloseOutstanding).toBe(false);
    expect(derivePaymentState([fact('expired', 'gave-up')], context({ providerRef: null })).sessionCloseOutstanding).toBe(false);
  });
});

describe('provider totals and our refunds, told apart by time', () => {
  const paid = fact('paid', 'paid', { money: money(), sessionRef: 'sess_ours' });
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute));

  it('a dashboard refund reported before ours was asked for is not swallowed by ours', () => {
    const dashboard = fact('refund_succeeded', 'alipay:portal', { refundId: 'portal_1', reportedRefundTotal: 250, occurredAt: at(1) });
    const ours = [
      fact('refund_requested', 'ours', { refundId: 're_ours', money: money(750), occurredAt: at(2) }),
      fact('refund_succeeded', 'ours-ok', { refundId: 're_ours', money: money(750), occurredAt: at(3) }),
    ];
    const state = derivePaymentState([paid, dashboard, ...ours], context({ riskDecision: 'review' }));
    expect(state).toMatchObject({ refundedAmount: AMOUNT, refundableAmount: 0, status: 'refunded' });
  });

  it('a total whose own fact names our refund includes it, whatever the clocks say', () => {
    const ours = fact('refund_requested', 'ours', { refundId: 're_ours', money: money(400), occurredAt: at(5) });
    const total = fact('refund_succeeded', 'stripe:evt', { refundId: 're_ours', money: money(400), reportedRefundTotal: 400, occurredAt: at(4) });
    expect(derivePaymentState([paid, ours, total], context())).toMatchObject({ refundedAmount: 400, refundableAmount: 600 });
  });

  // Found by the property "learning more facts never unsees money" (fast-check seed 838391471, path
  // 815:61:6:7), kept here fact for fact: with the first three facts 597 had gone back, with all of them 478.
  it('a total from before our refund was asked keeps proving its money once we learn of a refund in flight it may include', () => {
    const ctx = context({ riskDecision: 'review', captureMethod: 'manual' });
    const ours0 = { refundId: 're_ours_0', providerRefundId: 're_prov_0', money: money(153) };
    const prov1 = { providerRefundId: 're_prov_1', money: money(291) };
    const known = [
      fact('refund_requested', 'refund:0:requested', { refundId: 're_ours_0', money: money(153), occurredAt: at(5) }),
      fact('refund_succeeded', 'refund:0:succeeded', { ...ours0, reportedRefundTotal: 153, occurredAt: at(7) }),
      // 444 refunded as of 10:02, before our 153 was asked for at 10:05: the 153 comes on top of it.
      fact('refund_succeeded', 'refund:1:succeeded', { ...prov1, reportedRefundTotal: 444, occurredAt: at(2) }),
    ];
    const learned = [
      fact('failed', 'session:failed', { occurredAt: at(2) }),
      fact('processing', 'session:processing-again', { occurredAt: at(3) }),
      fact('authorized', 'session:authorized', { money: money(), sessionRef: 'sess_ours', occurredAt: at(4) }),
      fact('paid', 'session:paid-reconciled', { money: money(), occurredAt: at(5) }),
      fact('canceled', 'session:canceled', { occurredAt: at(6) }),
      fact('refund_pending', 'refund:0:pending', { ...ours0, occurredAt: at(6) }),
      fact('refund_failed', 'refund:0:failed', { ...ours0, occurredAt: at(8) }),
      fact('refund_pending', 'refund:1:pending', { ...prov1, occurredAt: at(1) }),
      fact('refund_failed', 'refund:1:failed', { ...prov1, occurredAt: at(3) }),
      // Ours, asked at 10:00 and still in flight: the 444 may include it, which takes nothing from what the 444 proves.
      fact('refund_requested', 'refund:2:requested', { refundId: 're_ours_2', money: money(119), occurredAt: at(0) }),
    ];
    expect(derivePaymentState(known, ctx)).toMatchObject({ status: 'partially_refunded', refundedAmount: 597, refundableAmount: 403 });
    expect(derivePaymentState([...known, ...learned], ctx)).toMatchObject({
      status: 'partially_refunded',
      refundedAmount: 597,
      refundableAmount: 403,
      reviewReason: 'refund_bounced',
    });
  });
});
