import { randomUUID } from 'node:crypto';
import { aDevice, newKey, TestGateway } from '../support/gateway';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A step-up token as the identity service mints one right after an MFA prompt: fresh `auth_time`, its own `jti`. */
export const stepUpToken = (test: TestGateway, sub: string, extra: Record<string, unknown> = {}) =>
  test.token(sub, { extra: { jti: randomUUID(), amr: ['mfa'], auth_time: nowSeconds(), ...extra } });

let people = 0;

/** A user with their own phone and address, so every identifier of theirs is distinct from everyone else's. */
export async function aPerson(test: TestGateway, label: string) {
  const n = people++;
  const sub = `${label}-${process.pid}-${n}`;
  return {
    sub,
    token: await test.token(sub),
    device: aDevice({ id: `${label}-phone-${process.pid}-${n}` }),
    ip: `203.0.113.${(n % 250) + 1}`,
  };
}

export type Person = Awaited<ReturnType<typeof aPerson>>;

/** A checkout from the person's phone and address (TRUST_PROXY=1 reads X-Forwarded-For). */
export function checkoutAs(test: TestGateway, person: Person, body: Record<string, unknown> = {}) {
  return test.http
    .post('/v1/checkouts')
    .set('Authorization', `Bearer ${person.token}`)
    .set('Idempotency-Key', newKey())
    .set('X-Forwarded-For', person.ip)
    .send({ sku: 'gems_600', provider: 'sandbox', device: person.device, location: { lat: 31.2304, lon: 121.4737 }, ...body });
}

export const as = (person: Person) => ({ Authorization: `Bearer ${person.token}`, 'X-Forwarded-For': person.ip });

export async function exportOf(test: TestGateway, person: Person) {
  return test.http.get('/v1/me/export').set(as(person)).set('Step-Up-Token', await stepUpToken(test, person.sub));
}

export async function erase(test: TestGateway, person: Person) {
  return test.http.post('/v1/me/erasure').set(as(person)).set('Step-Up-Token', await stepUpToken(test, person.sub));
}

export const paySandbox = (test: TestGateway, person: Person, paymentId: string) =>
  test.http.post(`/v1/sandbox/payments/${paymentId}/complete`).set(as(person)).send({ outcome: 'succeeded' });

export const sandboxEvent = (test: TestGateway, person: Person, paymentId: string, type: string) =>
  test.http.post(`/v1/sandbox/payments/${paymentId}/events`).set(as(person)).send({ type });

export const grant = (test: TestGateway, person: Person, consents: Record<string, boolean>, policyVersion = '1') =>
  test.http
    .put('/v1/me/consents')
    .set(as(person))
    .send(Object.fromEntries(Object.entries(consents).map(([purpose, granted]) => [purpose, { granted, policy_version: policyVersion }])));
