import {
  AWAITING_PROVIDER_STATUSES,
  canTransition,
  PAYMENT_STATUSES,
  PaymentStatus,
  REFUNDABLE_STATUSES,
} from '../../src/payments/status';

/**
 * The lifecycle as API.md describes it, copied here on purpose: changing the table in src/payments/status.ts
 * must come with a deliberate change to this list.
 */
const ALLOWED_MOVES: Record<PaymentStatus, PaymentStatus[]> = {
  requires_verification: ['requires_payment', 'blocked', 'canceled'],
  requires_payment: ['processing', 'held_for_review', 'succeeded', 'failed', 'canceled'],
  processing: ['held_for_review', 'succeeded', 'failed', 'canceled'],
  held_for_review: ['succeeded', 'canceled', 'refunded'],
  succeeded: ['partially_refunded', 'refunded', 'disputed'],
  failed: ['processing', 'held_for_review', 'succeeded', 'canceled'],
  canceled: ['held_for_review'],
  blocked: [],
  partially_refunded: ['refunded', 'disputed'],
  refunded: [],
  disputed: ['succeeded', 'partially_refunded', 'refunded'],
};

const allPairs = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as const));

describe('the payment lifecycle', () => {
  test('knows exactly the statuses of the expected table', () => {
    expect([...PAYMENT_STATUSES].sort()).toEqual(Object.keys(ALLOWED_MOVES).sort());
  });

  test('answers for every pair of statuses', () => {
    for (const [from, to] of allPairs) expect(typeof canTransition(from, to)).toBe('boolean');
  });

  test('allows exactly the listed moves and refuses every other pair', () => {
    const allowed = allPairs.filter(([from, to]) => canTransition(from, to)).map(([from, to]) => `${from} → ${to}`);
    const expected = allPairs.filter(([from, to]) => ALLOWED_MOVES[from].includes(to)).map(([from, to]) => `${from} → ${to}`);

    expect(allowed).toEqual(expected);
  });

  test('never goes back from succeeded to failed, processing or requires_payment', () => {
    for (const to of ['failed', 'processing', 'requires_payment', 'requires_verification'] as const) {
      expect(canTransition('succeeded', to)).toBe(false);
    }
  });

  test('treats refunded and blocked as terminal', () => {
    for (const to of PAYMENT_STATUSES) {
      expect(canTransition('refunded', to)).toBe(false);
      expect(canTransition('blocked', to)).toBe(false);
    }
  });

  test('never moves a status onto itself or back to requires_verification', () => {
    for (const status of PAYMENT_STATUSES) {
      expect(canTransition(status, status)).toBe(false);
      expect(canTransition(status, 'requires_verification')).toBe(false);
    }
  });

  test('lets money that was taken be refunded in full from every refundable status', () => {
    for (const status of REFUNDABLE_STATUSES) expect(canTransition(status, 'refunded')).toBe(true);
  });

  test('lets every status that waits on the provider still succeed or fail', () => {
    for (const status of AWAITING_PROVIDER_STATUSES) {
      expect(canTransition(status, 'succeeded')).toBe(true);
      expect(canTransition(status, 'failed')).toBe(true);
    }
  });
});
