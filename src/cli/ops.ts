import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { approveHeldPayment, rejectHeldPayment } from '../risk/review';

export const OPS_USAGE = [
  'usage: kalos ops approve <payment id>                              release a payment held for review',
  '       kalos ops reject <payment id>                               void it, or refund it in full',
  '       kalos ops refund <payment id> [--amount N] [--reason TEXT]  refund part (minor units) or all of the rest',
].join('\n');

/**
 * Staff actions until the ops API exists: settle a held payment, or refund one. They run the same domain
 * functions the API will call, on the gateway's own configuration, and print the payment's new status.
 */
export async function runOpsCommand(args: string[], gateway: Gateway): Promise<string> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { amount: { type: 'string' }, reason: { type: 'string' } } });
  const [command, paymentId] = positionals;
  if (!paymentId || positionals.length !== 2) throw new Error(OPS_USAGE);
  const deps = { ...gateway, onStatusChange: () => undefined };
  switch (command) {
    case 'approve':
    case 'reject': {
      const payment = await (command === 'approve' ? approveHeldPayment : rejectHeldPayment)(deps, paymentId);
      return `${payment.id}: ${payment.status}`;
    }
    case 'refund': {
      const amount = values.amount === undefined ? undefined : Number(values.amount);
      if (amount !== undefined && !Number.isSafeInteger(amount)) throw new Error('--amount takes a whole number of minor units (fen, cents)');
      const refund = await gateway.refunds.refund({ paymentId, amount, reason: values.reason ?? 'requested_by_customer' });
      return `${refund.id}: ${refund.amount} ${refund.currency} ${refund.status}`;
    }
    default:
      throw new Error(OPS_USAGE);
  }
}
