import type { Database } from '../../src/db/database';
import { lifecycleContext, ownFact, paymentFacts, recordFacts } from '../../src/payments/fact-journal';
import { derivePaymentState, PaymentFact } from '../../src/payments/lifecycle';
import { findPayment } from '../../src/payments/payment';
import { serverUrl } from '../support/databases';
import { checkout, startTestGateway, TestGateway } from '../support/gateway';
import { postSandboxWebhook, SandboxEventInput } from '../support/sandbox-webhooks';

/**
 * A webhook reads its payment and facts without a lock and writes only if the payment's facts_version is
 * still the one it read (src/webhooks/service.ts). These tests race it: against facts recorded between its
 * read and its write, and against other deliveries through a second gateway on the same database.
 */

type PaymentBody = { id: string; amount: number; currency: string };

let buyers = 0;
async function aPayment(k: TestGateway): Promise<PaymentBody> {
  const res = await checkout(k, await k.token(`version-${buyers++}`));
  expect(res.status).toBe(201);
  return res.body as PaymentBody;
}

/** What the database holds for the payment, and the state its facts make it. */
async function books(db: Database, paymentId: string) {
  const payment = (await findPayment(db, paymentId))!;
  const facts = await paymentFacts(db, paymentId);
  const derived = derivePaymentState(facts, lifecycleContext(payment));
  const history = await db.many<{ from_status: string | null; to_status: string }>(
    'SELECT from_status, to_status FROM payment_status_history WHERE payment_id = $1 ORDER BY id',
    [paymentId],
  );
  return { payment, facts, derived, history };
}

const stateOf = (payment: { status: string; refundedAmount: number; capturedAmount: number; openDispute: boolean; reviewReason: string | null }) => ({
  status: payment.status,
  refundedAmount: payment.refundedAmount,
  capturedAmount: payment.capturedAmount,
  openDispute: payment.openDispute,
  reviewReason: payment.reviewReason,
});

/** The history is one chain: each row starts where the one before ended, and the last ends at the payment's status. */
function expectOneChain(history: { from_status: string | null; to_status: string }[], status: string) {
  for (let i = 1; i < history.length; i++) expect(history[i].from_status).toBe(history[i - 1].to_status);
  expect(history.at(-1)!.to_status).toBe(status);
}

describe('a webhook whose payment changes between its read and its write', () => {
  let k: TestGateway;

  beforeAll(async () => {
    k = await startTestGateway();
  });
  afterAll(() => k?.stop());

  /** Runs `between` after each of the webhook path's reads (statement 1) and before what follows it, `times` times. */
  function interleaveAfterReads(times: number, between: (n: number) => Promise<unknown>) {
    const db = k.gateway.db;
    const original = db.one.bind(db);
    let n = 0;
    return jest.spyOn(db, 'one').mockImplementation((async (text: string, params?: unknown[]) => {
      const row = await original(text, params);
      if (n < times && text.includes('json_agg')) await between(n++);
      return row;
    }) as Database['one']);
  }

  afterEach(() => jest.restoreAllMocks());

  it('reads again and derives its state from both facts: paid after a cancel recorded meanwhile is held, not succeeded', async () => {
    const payment = await aPayment(k);
    interleaveAfterReads(1, () => k.gateway.db.transaction((tx) => recordFacts(tx, payment.id, [ownFact('expired', 'gateway:expired')])));
    const res = await postSandboxWebhook(k, { id: `evt_v_${payment.id}`, type: 'payment.succeeded', paymentId: payment.id, amount: payment.amount, currency: payment.currency });
    expect(res.status).toBe(200);

    const { payment: after, facts, derived, history } = await books(k.gateway.db, payment.id);
    expect(facts.map((fact) => fact.key).sort()).toEqual(['gateway:expired', `sandbox:evt_v_${payment.id}`]);
    expect(after).toMatchObject({ status: 'held_for_review', reviewReason: 'paid_after_cancel', factsVersion: 2 });
    expect(stateOf(after)).toEqual(stateOf(derived));
    expect(history.map((row) => row.to_status)).toEqual(['requires_payment', 'canceled', 'held_for_review']);
    expect(await k.gateway.db.many('SELECT outcome, payment_id FROM webhook_events WHERE event_id = $1', [`evt_v_${payment.id}`])).toEqual([
      { outcome: 'applied', payment_id: payment.id },
    ]);
  });

  it('after losing every optimistic attempt it takes the row lock, and still records its fact once', async () => {
    const payment = await aPayment(k);
    const interleaved: PaymentFact[] = [];
    interleaveAfterReads(5, (n) => {
      const fact = ownFact('processing', `test:processing:${n}`);
      interleaved.push(fact);
      return k.gateway.db.transaction((tx) => recordFacts(tx, payment.id, [fact]));
    });
    const event = { id: `evt_v5_${payment.id}`, type: 'payment.succeeded' as const, paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    expect((await postSandboxWebhook(k, event)).status).toBe(200);

    const { payment: after, facts, derived } = await books(k.gateway.db, payment.id);
    expect(facts.map((fact) => fact.key).sort()).toEqual([...interleaved.map((fact) => fact.key), `sandbox:${event.id}`].sort());
    expect(after).toMatchObject({ status: 'succeeded', factsVersion: 6 });
    expect(stateOf(after)).toEqual(stateOf(derived));
    jest.restoreAllMocks();
    expect((await postSandboxWebhook(k, event)).status).toBe(200);
    expect((await findPayment(k.gateway.db, payment.id))!.factsVersion).toBe(6);
  });

  it('a redelivery after retention deleted the event row is noted as a duplicate and records nothing', async () => {
    const payment = await aPayment(k);
    const event = { id: `evt_vr_${payment.id}`, type: 'payment.succeeded' as const, paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    expect((await postSandboxWebhook(k, event)).status).toBe(200);
    await k.gateway.db.many('DELETE FROM webhook_events WHERE event_id = $1', [event.id]);
    expect((await postSandboxWebhook(k, event)).status).toBe(200);

    const { payment: after, facts } = await books(k.gateway.db, payment.id);
    expect(facts).toHaveLength(1);
    expect(after).toMatchObject({ status: 'succeeded', factsVersion: 1 });
    expect(await k.gateway.db.many('SELECT outcome FROM webhook_events WHERE event_id = $1', [event.id])).toEqual([{ outcome: 'duplicate' }]);
  });
});

(serverUrl() ? describe : describe.skip)('many deliveries of one payment through two gateways on one database', () => {
  let first: TestGateway;
  let second: TestGateway;

  beforeAll(async () => {
    first = await startTestGateway();
    second = await startTestGateway({ env: first.sharedEnv });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('every fact is recorded once, the version counts them, and the state is what the set of facts makes it', async () => {
    const payment = await aPayment(first);
    const base = { paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    const events: SandboxEventInput[] = [
      { ...base, id: `evt_c_proc_${payment.id}`, type: 'payment.processing', created: 1_700_000_000 },
      { ...base, id: `evt_c_fail_${payment.id}`, type: 'payment.failed', created: 1_700_000_001 },
      { ...base, id: `evt_c_ok_${payment.id}`, type: 'payment.succeeded', created: 1_700_000_002 },
      { ...base, id: `evt_c_dpo_${payment.id}`, type: 'dispute.opened', disputeId: `sbx_dp_${payment.id}` },
      { ...base, id: `evt_c_dpw_${payment.id}`, type: 'dispute.won', disputeId: `sbx_dp_${payment.id}` },
      // A refund's fact takes the locked way: both ways race on the same payment.
      { ...base, id: `evt_c_rf_${payment.id}`, type: 'refund.succeeded', refund: { id: `sbx_re_${payment.id}`, amount: 100 } },
    ];
    // Each event three times, alternating between the gateways, all at once.
    const replies = await Promise.all(events.flatMap((event) => [first, second, first].map((k) => postSandboxWebhook(k, event))));
    expect(replies.map((reply) => reply.status)).toEqual(Array(events.length * 3).fill(200));

    const { payment: after, facts, derived, history } = await books(first.gateway.db, payment.id);
    expect(facts.map((fact) => fact.key).sort()).toEqual(events.map((event) => `sandbox:${event.id}`).sort());
    expect(after.factsVersion).toBe(events.length);
    expect(stateOf(after)).toEqual(stateOf(derived));
    expect(after).toMatchObject({ status: 'partially_refunded', refundedAmount: 100, openDispute: false });
    expectOneChain(history, after.status);

    const noted = await first.gateway.db.many<{ event_id: string; outcome: string }>(
      'SELECT event_id, outcome FROM webhook_events WHERE event_id = ANY($1) ORDER BY event_id',
      [events.map((event) => event.id)],
    );
    expect(noted.map((row) => row.event_id).sort()).toEqual(events.map((event) => event.id).sort());
    expect(noted.every((row) => ['applied', 'recorded'].includes(row.outcome))).toBe(true);
  });
});
