import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { ApiError } from '../shared/errors';
import { runPaymentAction, StaffAction } from '../staff/actions';
import type { StaffMember } from '../staff/auth';

export const OPS_USAGE = [
  'usage: kalos ops approve <payment id> --reason TEXT                release a payment held for review',
  '       kalos ops reject <payment id> --reason TEXT                 void it, or refund it in full',
  '       kalos ops refund <payment id> [--amount N] --reason TEXT    refund part (minor units) or all of the rest',
  '       [--as STAFF_ID]  who acts, for the audit log (default: cli:<login name>)',
].join('\n');

const ACTIONS: readonly string[] = ['approve', 'reject', 'refund'];

function parse(args: string[]) {
  const { positionals, values } = parseArgs({
    args, allowPositionals: true, options: { amount: { type: 'string' }, reason: { type: 'string' }, as: { type: 'string' } },
  });
  const [action, paymentId] = positionals;
  if (!paymentId || positionals.length !== 2 || !ACTIONS.includes(action)) throw new Error(OPS_USAGE);
  const reason = values.reason?.trim() ?? '';
  if (reason.length < 1 || reason.length > 500) throw new Error(`--reason (1–500 characters) is required; it goes into the audit log\n${OPS_USAGE}`);
  const amount = values.amount === undefined ? undefined : Number(values.amount);
  if (amount !== undefined && !Number.isSafeInteger(amount)) throw new Error('--amount takes a whole number of minor units (fen, cents)');
  return { action: action as StaffAction, paymentId, reason, amount, actor: values.as ?? `cli:${os.userInfo().username}` };
}

/**
 * The staff actions from a shell: the same domain functions, claims and audit rows as the ops API
 * (src/staff/actions.ts), acting as a staff member with the role the action needs.
 */
export async function runOpsCommand(args: string[], gateway: Gateway): Promise<string> {
  const request = parse(args);
  const staff: StaffMember = { id: request.actor, roles: [request.action === 'refund' ? 'refunds' : 'reviewer'] };
  const audit = (outcome: 'ok' | 'refused' | 'failed', detail: Record<string, unknown>) =>
    gateway.staff.audit.append({
      actor: staff.id, role: staff.roles.join(','), action: `payment.${request.action}`, resource: `payment:${request.paymentId}`, outcome,
      requestId: 'cli', ipHash: gateway.staff.audit.ipHash('cli'), detail,
    });
  try {
    const { body } = await runPaymentAction(gateway, staff, request);
    await audit('ok', { reason: request.reason, amount: request.amount });
    const answer = body as { id: string; status: string; amount: number; currency: string };
    return request.action === 'refund' ? `${answer.id}: ${answer.amount} ${answer.currency} ${answer.status}` : `${answer.id}: ${answer.status}`;
  } catch (error) {
    await audit(error instanceof ApiError && error.status < 500 ? 'refused' : 'failed', { code: error instanceof ApiError ? error.code : 'internal_error' });
    throw error;
  }
}
