import { buildSandboxWebhook, SandboxEvent } from '../../src/providers/sandbox/provider';
import { signSandboxPayload } from '../../src/providers/sandbox/signature';
import type { TestGateway } from './gateway';

export interface SandboxEventInput {
  id: string;
  type: SandboxEvent['type'];
  paymentId: string;
  amount: number;
  currency: string;
  /** Unix seconds at the "provider". */
  created?: number;
  refund?: { id: string; amount: number; refund_id?: string };
  refundedTotal?: number;
  disputeId?: string;
}

/** Posts a sandbox webhook signed exactly as the sandbox provider signs it (or with overrides, to attack it). */
export function postSandboxWebhook(
  test: TestGateway,
  event: SandboxEventInput,
  tamper: { secret?: string; timestamp?: number; body?: string; omitSignature?: boolean } = {},
) {
  const secret = tamper.secret ?? test.gateway.keys.sandboxWebhookSecret!;
  const built = buildSandboxWebhook(secret, {
    id: event.id,
    type: event.type,
    ...(event.created ? { created: event.created } : {}),
    data: {
      payment_id: event.paymentId,
      amount: event.amount,
      currency: event.currency,
      ...(event.refund ? { refund: event.refund } : {}),
      ...(event.refundedTotal !== undefined ? { refunded_total: event.refundedTotal } : {}),
      ...(event.disputeId ? { dispute_id: event.disputeId } : {}),
    },
  });
  const body = tamper.body ?? built.body.toString('utf8');
  const signature = tamper.timestamp ? signSandboxPayload(secret, built.body, tamper.timestamp) : built.headers['sandbox-signature'];
  const request = test.http.post('/v1/webhooks/sandbox').set('Content-Type', 'application/json');
  if (!tamper.omitSignature) request.set('Sandbox-Signature', signature);
  return request.send(body);
}

export async function historyOf(test: TestGateway, paymentId: string): Promise<string[]> {
  const rows = await test.gateway.db.many<{ to_status: string }>(
    'SELECT to_status FROM payment_status_history WHERE payment_id = $1 ORDER BY id',
    [paymentId],
  );
  return rows.map((row) => row.to_status);
}
