import { signStaffToken, StaffRole } from '../../src/staff/auth';
import { aDevice, checkout, TestGateway } from './gateway';

/** A staff token from the test gateway's embedded staff issuer. */
export function staffToken(test: TestGateway, sub: string, roles: (StaffRole | string)[], expiresInSeconds = 3600): Promise<string> {
  const issuer = test.gateway.staff.embeddedIssuer!;
  const { issuer: iss, audience: aud } = test.gateway.config.staff;
  return signStaffToken({ privateKeyPem: issuer.privateKeyPem, iss, aud }, { sub, roles, expiresInSeconds });
}

let buyers = 0;

/** A sandbox payment that was paid: held for review when `held` (an emulator sends it to review). */
export async function paidPayment(test: TestGateway, options: { held?: boolean; name?: string } = {}): Promise<string> {
  const name = `${options.name ?? 'staff-buyer'}-${process.pid}-${buyers++}`;
  const token = await test.token(name);
  const payment = (await checkout(test, token, { device: aDevice({ id: `${name}-phone`, emulator: options.held === true }), location: { lat: 31.23, lon: 121.47 } })).body;
  await test.http.post(`/v1/sandbox/payments/${payment.id}/complete`).set('Authorization', `Bearer ${token}`).send({ outcome: 'succeeded' });
  return payment.id as string;
}

export async function auditRows(test: TestGateway, resource: string) {
  return test.gateway.db.many<{ actor: string; action: string; outcome: string; detail: Record<string, unknown>; role: string }>(
    'SELECT actor, role, action, outcome, detail FROM audit_log WHERE resource = $1 ORDER BY seq',
    [resource],
  );
}
