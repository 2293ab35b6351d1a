import { personalDataExportSchema } from '../../src/rights/schemas';
import { FakeAlipayGateway, generateRsaKeyPair, pem } from '../fakes/alipay-gateway';
import { FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';
import { startTestGateway, TestGateway } from '../support/gateway';
import { redisExpected } from '../support/redis';
import { aPerson, as, checkoutAs, exportOf, grant, paySandbox, Person, stepUpToken } from './support';

/** The export: everything held about the caller, decrypted, on every provider; and the identity check in front of it. */
let stripe: FakeStripeApi;
let alipay: FakeAlipayGateway;
let kalos: TestGateway;
const appKeys = generateRsaKeyPair();
const alipayKeys = generateRsaKeyPair();
const APP_ID = '2021000122671080';

beforeAll(async () => {
  stripe = await FakeStripeApi.start();
  alipay = new FakeAlipayGateway({ appId: APP_ID, appPublicKey: appKeys.publicKey, alipayKeys });
  kalos = await startTestGateway({
    redis: redisExpected(),
    env: {
      ...stripe.env(),
      ALIPAY_APP_ID: APP_ID,
      ALIPAY_PRIVATE_KEY: pem.pkcs8(appKeys),
      ALIPAY_PUBLIC_KEY: pem.spki(alipayKeys),
      ALIPAY_GATEWAY_URL: await alipay.start(),
      ALIPAY_NOTIFY_URL: 'https://pay.example.com/v1/webhooks/alipay',
      ALIPAY_SELLER_ID: alipay.sellerId,
      TRUST_PROXY: '1',
      RIGHTS_REQUESTS_PER_HOUR: '4',
      RIGHTS_EXPORT_BATCH_SIZE: '2',
    },
  });
});
afterAll(async () => {
  await kalos?.stop();
  await stripe?.close();
  await alipay?.stop();
});

async function stripeSucceeds(paymentId: string) {
  const intent = stripe.allIntents().find((candidate) => candidate.metadata.payment_id === paymentId)!;
  const { body, signature } = signedStripeWebhook(stripe.intentEvent('payment_intent.succeeded', intent.id));
  const res = await kalos.http.post('/v1/webhooks/stripe').set('Content-Type', 'application/json').set('Stripe-Signature', signature).send(body);
  expect(res.status).toBe(200);
}

/** A payment on each provider, a refund, a consent given then withdrawn. */
async function aCustomerEverywhere(): Promise<{ person: Person; ids: Record<string, string> }> {
  const person = await aPerson(kalos, 'export');
  await grant(kalos, person, { personalised_recommendations: true });
  await grant(kalos, person, { personalised_recommendations: false });
  const sandbox = await checkoutAs(kalos, person);
  await paySandbox(kalos, person, sandbox.body.id);
  await kalos.gateway.refunds.refund({ paymentId: sandbox.body.id, amount: 1000, reason: 'requested_by_customer' });
  const card = await checkoutAs(kalos, person, { provider: 'stripe' });
  await stripeSucceeds(card.body.id);
  const wallet = await checkoutAs(kalos, person, { provider: 'alipay', location: undefined });
  for (const res of [sandbox, card, wallet]) expect(res.status).toBe(201);
  return { person, ids: { sandbox: sandbox.body.id, stripe: card.body.id, alipay: wallet.body.id } };
}

describe('GET /v1/me/export', () => {
  test('holds every payment on every provider, decrypted, with history, refunds, decisions and consents', async () => {
    const { person, ids } = await aCustomerEverywhere();
    const res = await exportOf(kalos, person);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = personalDataExportSchema.parse(res.body);

    expect(body.user_id).toBe(person.sub);
    expect(body.payments.map((payment) => [payment.provider, payment.id])).toEqual([
      ['alipay', ids.alipay],
      ['stripe', ids.stripe],
      ['sandbox', ids.sandbox],
    ]);
    for (const payment of body.payments) {
      expect(payment.personal).toMatchObject({ user_id: person.sub, ip_address: person.ip, device: { id: person.device.id, model: 'iPhone15,2' } });
      expect(payment.risk_decisions[0]).toMatchObject({ stage: 'checkout', automated: true });
      expect(payment.risk_decisions[0].reasons.length).toBeGreaterThan(0);
      expect(payment.risk_decisions[0].reasons[0].description).toMatch(/\w+ \w+/);
    }
    const [wallet, card, sandbox] = body.payments;
    expect(wallet.personal.location).toBeNull();
    expect(sandbox.personal.location).toEqual({ lat: 31.2304, lon: 121.4737 });
    expect(card.history.map((entry) => entry.status)).toEqual(['requires_payment', 'succeeded']);
    expect(sandbox).toMatchObject({ status: 'partially_refunded', refunded_amount: 1000, refunds: [{ amount: 1000, status: 'succeeded' }] });

    const recommendations = body.consents.consents.find((consent) => consent.purpose === 'personalised_recommendations')!;
    expect(recommendations).toMatchObject({ granted: false, policy_version: '1' });
    expect(recommendations.history.map((entry) => entry.granted)).toEqual([true, false]);
    expect(body.rights_requests).toEqual([expect.objectContaining({ kind: 'export', status: 'completed' })]);
  });

  test('reads a long history page by page, each payment once, newest first', async () => {
    const person = await aPerson(kalos, 'long');
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) created.unshift((await checkoutAs(kalos, person, { location: undefined })).body.id);
    const res = await exportOf(kalos, person); // RIGHTS_EXPORT_BATCH_SIZE=2: three pages
    expect(res.headers['transfer-encoding']).toBe('chunked'); // streamed, not buffered into one body
    expect(res.body.payments.map((payment: { id: string }) => payment.id)).toEqual(created);
  });
});

describe('identity check for rights requests', () => {
  test('refuses a missing, foreign, weak, stale or reused step-up token with 403 step_up_required', async () => {
    const person = await aPerson(kalos, 'prove');
    const refusals = [
      kalos.http.get('/v1/me/export').set(as(person)),
      kalos.http.get('/v1/me/export').set(as(person)).set('Step-Up-Token', await stepUpToken(kalos, 'someone-else')),
      kalos.http.post('/v1/me/erasure').set(as(person)).set('Step-Up-Token', await stepUpToken(kalos, person.sub, { amr: ['pwd'] })),
    ];
    for (const res of await Promise.all(refusals)) {
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'step_up_required', param: 'Step-Up-Token' });
    }
    const stale = await stepUpToken(kalos, person.sub, { auth_time: Math.floor(Date.now() / 1000) - 3_600 });
    expect((await kalos.http.post('/v1/me/erasure').set(as(person)).set('Step-Up-Token', stale)).status).toBe(403);
    expect((await kalos.http.get('/v1/orders').set(as(person))).status).toBe(200); // nothing was erased
  });

  test('one token serves one request, and repeated requests are limited per hour with 429 and Retry-After', async () => {
    const person = await aPerson(kalos, 'again');
    const token = await stepUpToken(kalos, person.sub);
    expect((await kalos.http.get('/v1/me/export').set(as(person)).set('Step-Up-Token', token)).status).toBe(200);
    const reused = await kalos.http.post('/v1/me/erasure').set(as(person)).set('Step-Up-Token', token);
    expect(reused.status).toBe(403);
    expect(reused.body.error.message).toMatch(/used already/);
    expect((await exportOf(kalos, person)).status).toBe(200);
    expect((await exportOf(kalos, person)).status).toBe(200); // RIGHTS_REQUESTS_PER_HOUR=4: the fourth
    const limited = await exportOf(kalos, person);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(60);
  });
});
