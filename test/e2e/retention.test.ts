import { sweepRetention } from '../../src/retention/sweep';
import { checkout, startTestGateway, TestGateway } from '../support/gateway';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** What a person or an auditor would count in each table, and how much of it is still personal. */
async function census(test: TestGateway) {
  const count = async (sql: string) => Number((await test.gateway.db.one<{ n: string }>(sql))!.n);
  return {
    webhookEvents: await count('SELECT count(*) AS n FROM webhook_events'),
    statusHistory: await count('SELECT count(*) AS n FROM payment_status_history'),
    riskDecisions: await count('SELECT count(*) AS n FROM risk_decisions'),
    riskDecisionsWithFeatures: await count(`SELECT count(*) AS n FROM risk_decisions WHERE features <> '{}'::jsonb`),
    stepUpAttempts: await count('SELECT count(*) AS n FROM risk_step_up_attempts'),
    stepUpTokens: await count('SELECT count(*) AS n FROM risk_step_up_tokens'),
    unansweredKeys: await count('SELECT count(*) AS n FROM idempotency_keys WHERE response_status IS NULL'),
    answeredKeys: await count('SELECT count(*) AS n FROM idempotency_keys WHERE response_status IS NOT NULL'),
    staffKeys: await count('SELECT count(*) AS n FROM staff_idempotency_keys'),
    payments: await count('SELECT count(*) AS n FROM payments'),
    personalPayments: await count(`SELECT count(*) AS n FROM payments WHERE user_id_enc <> '' AND user_hash NOT LIKE 'anonymised:%'`),
  };
}

describe('retention on a clock moved forward', () => {
  let test: TestGateway;
  let alice: string;
  let start: Date;
  let end: Date;
  const paid: string[] = [];
  let unpaid: string;
  let refunding: string;
  let before: Awaited<ReturnType<typeof census>>;

  /** Sweeps as if it were `offsetDays` after the data was written: just before its first row, or just after its last. */
  const sweepAt = (offsetDays: number, side: 'before' | 'after', overrides = {}) =>
    sweepRetention(test.gateway.db, { ...test.gateway.config.retention, ...overrides }, {
      now: side === 'before' ? new Date(start.getTime() + offsetDays * DAY_MS - MINUTE_MS) : new Date(end.getTime() + offsetDays * DAY_MS + MINUTE_MS),
    });

  beforeAll(async () => {
    test = await startTestGateway({ env: { RETENTION_BATCH_SIZE: '2' } });
    alice = await test.token('alice-retention');
    start = (await test.gateway.db.one<{ now: Date }>('SELECT now() AS now'))!.now;
    for (let i = 0; i < 3; i++) {
      const created = await checkout(test, alice);
      await test.http.post(`/v1/sandbox/payments/${created.body.id}/complete`).set('Authorization', `Bearer ${alice}`).send({ outcome: 'succeeded' });
      paid.push(created.body.id);
    }
    unpaid = (await checkout(test, alice)).body.id;
    refunding = paid[2];
    const db = test.gateway.db;
    // A refund still at the provider; step-up evidence; keys whose requests died before answering (a crashed instance).
    await db.many(`INSERT INTO refunds (id, payment_id, amount, currency, status, reason) SELECT 're_retention', id, 1, currency, 'pending', 'test' FROM payments WHERE id = $1`, [refunding]);
    for (const id of paid) {
      await db.many('INSERT INTO risk_step_up_attempts (payment_id, passed) VALUES ($1, true)', [id]);
      await db.many('INSERT INTO risk_step_up_tokens (token_hash, payment_id) VALUES ($1, $1)', [id]);
    }
    for (let i = 0; i < 3; i++) {
      await db.many(
        `INSERT INTO idempotency_keys (user_hash, key_hash, request_hash, expires_at, locked_until)
         VALUES ('dead-request', $1, 'r', now() + interval '1 day', now() - interval '1 minute')`,
        [`dead-${i}`],
      );
    }
    // A staff member's approvals, answered, and one whose request died.
    for (const [i, status] of [200, 200, null].entries()) {
      await db.many(
        `INSERT INTO staff_idempotency_keys (staff_id, key_hash, request_hash, response_status, response_body) VALUES ('staff-retention', $1, 'r', $2, $3)`,
        [`staff-${i}`, status, status && '{"id":"pay_x"}'],
      );
    }
    end = (await db.one<{ now: Date }>('SELECT clock_timestamp() AS now'))!.now;
    before = await census(test);
  });

  afterAll(() => test?.stop());

  it('starts from a gateway that has written every kind of record', () => {
    expect(before).toMatchObject({ stepUpAttempts: 3, stepUpTokens: 3, unansweredKeys: 3, staffKeys: 3, payments: 4, personalPayments: 4 });
    for (const value of Object.values(before)) expect(value).toBeGreaterThan(0);
  });

  it('keeps everything younger than its shortest setting', async () => {
    const outcomes = await sweepAt(1, 'before');

    expect(outcomes.every((outcome) => outcome.rows === 0)).toBe(true);
    expect(await census(test)).toEqual(before);
  });

  it("deletes staff members' idempotency keys after a day, answered or not, and nothing else", async () => {
    await sweepAt(1, 'after');

    expect(await census(test)).toEqual({ ...before, staffKeys: 0 });
  });

  it('deletes idempotency keys whose request died unanswered after 7 days, in resumable batches, and nothing else', async () => {
    const partial = await sweepAt(7, 'after', { batchSize: 1, maxBatches: 2 });
    expect(partial.find((outcome) => outcome.kind === 'unansweredIdempotency')).toMatchObject({ rows: 2, unfinished: true });
    expect((await census(test)).unansweredKeys).toBe(1);

    await sweepAt(7, 'after');

    expect(await census(test)).toEqual({ ...before, staffKeys: 0, unansweredKeys: 0 });
  });

  it('deletes step-up attempts and used tokens after 30 days', async () => {
    await sweepAt(30, 'before');
    expect((await census(test)).stepUpTokens).toBe(3);

    await sweepAt(30, 'after');

    expect(await census(test)).toEqual({ ...before, staffKeys: 0, unansweredKeys: 0, stepUpAttempts: 0, stepUpTokens: 0 });
  });

  it('deletes webhook receipts and blanks risk features after 90 days, keeping each decision and its explanation', async () => {
    await sweepAt(90, 'after');

    expect(await census(test)).toEqual({
      ...before, staffKeys: 0, unansweredKeys: 0, stepUpAttempts: 0, stepUpTokens: 0, webhookEvents: 0, riskDecisionsWithFeatures: 0,
    });
    const decision = await test.gateway.db.one('SELECT decision, explanation FROM risk_decisions LIMIT 1');
    expect(decision).toMatchObject({ decision: 'allow', explanation: { how_to_contest: expect.stringMatching(/\w/) } });
  });

  it('deletes risk decisions after 400 days and status history after 540', async () => {
    await sweepAt(400, 'after');
    expect((await census(test)).riskDecisions).toBe(0);
    expect((await census(test)).statusHistory).toBe(before.statusHistory);

    await sweepAt(540, 'after');

    expect((await census(test)).statusHistory).toBe(0);
  });

  it('anonymises settled payments after 1095 days: the accounting record stays, nothing links it to the user', async () => {
    const accounting = () =>
      test.gateway.db.many('SELECT id, amount, currency, sku, item_name, status, created_at FROM payments ORDER BY id');
    const kept = await accounting();
    await sweepAt(1095, 'before');
    expect((await census(test)).personalPayments).toBe(4);

    await sweepAt(1095, 'after');

    expect(await accounting()).toEqual(kept);
    const rows = await test.gateway.db.many<{ id: string; user_hash: string; device_hash: string; user_id_enc: string; ip_enc: string | null }>(
      'SELECT id, user_hash, device_hash, user_id_enc, ip_enc FROM payments ORDER BY id',
    );
    const anonymised = rows.filter((row) => row.user_hash === `anonymised:${row.id}`);
    expect(anonymised.map((row) => row.id).sort()).toEqual(paid.filter((id) => id !== refunding).sort());
    for (const row of anonymised) expect(row).toMatchObject({ device_hash: `anonymised:${row.id}`, user_id_enc: '', ip_enc: null });
    // The unpaid checkout and the payment with a refund in flight are left until they settle.
    const orders = await test.http.get('/v1/orders').set('Authorization', `Bearer ${alice}`);
    expect(orders.body.data.map((order: { id: string }) => order.id).sort()).toEqual([unpaid, refunding].sort());
  });

  it('lets nothing but retention rewrite the append-only tables, and retention only as each table allows', async () => {
    const db = test.gateway.db;
    await db.many(`INSERT INTO payment_status_history (payment_id, to_status, source) VALUES ($1, 'requires_payment', 'test')`, [unpaid]);

    await expect(db.many('DELETE FROM payment_status_history')).rejects.toThrow('payment_status_history is append-only');
    await expect(
      db.transaction(async (tx) => {
        await tx.many(`SET LOCAL kalos.maintenance = 'retention'`);
        await tx.many(`UPDATE payment_status_history SET source = 'rewritten'`);
      }),
    ).rejects.toThrow('payment_status_history is append-only');
    expect((await census(test)).statusHistory).toBe(1);
  });
});
