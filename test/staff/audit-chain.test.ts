import { AUDIT_CHAIN_KEY_LABEL } from '../../src/audit/trail';
import { runAuditCommand } from '../../src/cli/audit';
import { startTestGateway, TestGateway } from '../support/gateway';

/** The audit trail is append-only in the database and tamper-evident through its keyed hash chain. */
describe('the audit trail', () => {
  let test: TestGateway;
  let chainKey: Buffer;
  beforeAll(async () => {
    test = await startTestGateway();
    chainKey = test.gateway.blindIndex.deriveKey(AUDIT_CHAIN_KEY_LABEL);
  });
  afterAll(() => test.stop());

  const verify = () => runAuditCommand(['verify'], { db: test.gateway.db, chainKey, retentionMonths: 12 });
  const prune = () => runAuditCommand(['prune'], { db: test.gateway.db, chainKey, retentionMonths: 12 });
  const append = (n: number, at?: Date) =>
    test.gateway.staff.audit.append(
      { actor: `staff-${n}`, role: 'reviewer', action: 'payment.read', resource: `payment:pay_${n}`, outcome: 'ok', requestId: `req_${n}`, ipHash: 'h', detail: { n } },
      { at },
    );
  /** What someone with database access (but not the chain key) can do: bypass the trigger and edit rows. */
  const tamper = (sql: string, params: unknown[] = []) =>
    test.gateway.db.transaction(async (tx) => {
      await tx.many("SET LOCAL session_replication_role = 'replica'");
      await tx.many(sql, params);
    });
  /** Puts the table back to a clean chain of `count` fresh rows. */
  async function reset(count: number) {
    await tamper('DELETE FROM audit_log');
    await tamper("UPDATE audit_chain_head SET seq = 0, hash = 'genesis', anchor_seq = 0, anchor_hash = 'genesis'");
    for (let n = 1; n <= count; n += 1) await append(n);
  }

  it('the database refuses to update, delete or truncate audit rows', async () => {
    await reset(2);
    await expect(test.gateway.db.many("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")).rejects.toThrow(/append-only/);
    await expect(test.gateway.db.many('DELETE FROM audit_log WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(test.gateway.db.many('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    expect(await verify()).toBe('audit trail intact: checked 2 rows from anchor 0');
  });

  it('appends from many callers at once form one unbroken chain', async () => {
    await reset(0);
    await Promise.all(Array.from({ length: 20 }, (_, n) => append(n + 1)));
    expect(await verify()).toBe('audit trail intact: checked 20 rows from anchor 0');
  });

  it('verify names a changed row', async () => {
    await reset(5);
    await tamper("UPDATE audit_log SET outcome = 'refused' WHERE seq = 3");
    await expect(verify()).rejects.toThrow(/row 3 was changed/);
  });

  it('verify names a deleted row, and deleted newest rows', async () => {
    await reset(5);
    await tamper('DELETE FROM audit_log WHERE seq = 2');
    await expect(verify()).rejects.toThrow(/row 2 was deleted/);
    await reset(5);
    await tamper('DELETE FROM audit_log WHERE seq >= 4');
    await expect(verify()).rejects.toThrow(/rows 4–5 \(the newest\) were deleted/);
  });

  it('verify names reordered rows', async () => {
    await reset(5);
    // Swap rows 2 and 3 wholesale (each keeps its own valid hash, but the chain order no longer holds).
    await tamper('UPDATE audit_log SET seq = -2 WHERE seq = 2');
    await tamper('UPDATE audit_log SET seq = 2 WHERE seq = 3');
    await tamper('UPDATE audit_log SET seq = 3 WHERE seq = -2');
    await expect(verify()).rejects.toThrow(/row [23] (was changed|does not follow)/);
  });

  it('pruning removes only whole months past the retention and keeps the chain verifiable from its anchor', async () => {
    await reset(0);
    const monthsAgo = (months: number) => {
      const at = new Date();
      at.setUTCMonth(at.getUTCMonth() - months);
      return at;
    };
    await append(1, monthsAgo(15));
    await append(2, monthsAgo(14));
    await append(3, monthsAgo(2));
    await append(4);
    expect(await prune()).toMatch(/^pruned 2 rows older than 12 months; the chain now starts after row 2$/);
    expect((await test.gateway.db.many<{ seq: string }>('SELECT seq FROM audit_log ORDER BY seq')).map((r) => Number(r.seq))).toEqual([3, 4]);
    expect(await verify()).toBe('audit trail intact: checked 2 rows from anchor 2');
    expect(await prune()).toMatch(/^pruned 0 rows/);
  });

  it('even the pruning path cannot delete a row younger than 12 months', async () => {
    await reset(1);
    const attempt = test.gateway.db.transaction(async (tx) => {
      await tx.many("SELECT set_config('kalos.audit_prune', 'on', true)");
      await tx.many('DELETE FROM audit_log');
    });
    await expect(attempt).rejects.toThrow(/append-only/);
  });

  it('explains its usage', async () => {
    await expect(runAuditCommand([], { db: test.gateway.db, chainKey, retentionMonths: 12 })).rejects.toThrow(/usage: kalos audit verify/);
  });
});
