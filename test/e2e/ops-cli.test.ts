import { runOpsCommand } from '../../src/cli/ops';
import { aDevice, checkout, startTestGateway, TestGateway } from '../support/gateway';

describe('kalos ops', () => {
  let test: TestGateway;
  beforeAll(async () => {
    test = await startTestGateway();
  });
  afterAll(() => test.stop());

  async function paid(name: string, device: Record<string, unknown> = {}) {
    const token = await test.token(name);
    const payment = (await checkout(test, token, { device: aDevice({ id: `${name}-phone`, ...device }) })).body;
    await test.http.post(`/v1/sandbox/payments/${payment.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
    return payment.id as string;
  }

  it('refunds part, then the rest', async () => {
    const id = await paid('ops-refund');
    expect(await runOpsCommand(['refund', id, '--amount', '1000', '--reason', 'duplicate purchase'], test.gateway)).toMatch(/^re_\w+: 1000 CNY succeeded$/);
    expect(await runOpsCommand(['refund', id, '--reason', 'the rest'], test.gateway)).toMatch(/: 5000 CNY succeeded$/);
    const row = await test.gateway.db.one('SELECT status, refunded_amount FROM payments WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'refunded', refunded_amount: '6000' });
  });

  it('approves or rejects a held payment', async () => {
    const approved = await paid('ops-approve', { emulator: true });
    expect(await runOpsCommand(['approve', approved, '--reason', 'known customer', '--as', 'olga'], test.gateway)).toBe(`${approved}: succeeded`);
    const rejected = await paid('ops-reject', { emulator: true });
    expect(await runOpsCommand(['reject', rejected, '--reason', 'fraud ring'], test.gateway)).toBe(`${rejected}: refunded`);
    const audit = await test.gateway.db.many('SELECT actor, action, outcome, detail FROM audit_log WHERE resource = $1', [`payment:${approved}`]);
    expect(audit).toEqual([{ actor: 'olga', action: 'payment.approve', outcome: 'ok', detail: { reason: 'known customer' } }]);
  });

  it('explains its usage and refuses a fractional amount', async () => {
    await expect(runOpsCommand(['refund'], test.gateway)).rejects.toThrow(/usage: kalos ops/);
    await expect(runOpsCommand(['approve', 'pay_x'], test.gateway)).rejects.toThrow(/--reason \(1–500 characters\) is required/);
    await expect(runOpsCommand(['refund', 'pay_x', '--amount', '1.5', '--reason', 'x'], test.gateway)).rejects.toThrow(/whole number of minor units/);
  });
});
