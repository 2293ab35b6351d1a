import { FakeStripeApi } from '../fakes/stripe-api';
import { startTestGateway, TestGateway } from '../support/gateway';
import { aPerson, as, checkoutAs, grant, paySandbox, Person, stepUpToken } from './support';

/** Consents and what they switch: personalised recommendations, and checkouts that send data abroad. */
let stripe: FakeStripeApi;
let kalos: TestGateway;

beforeAll(async () => {
  stripe = await FakeStripeApi.start();
  kalos = await startTestGateway({ env: { ...stripe.env(), DATA_REGION: 'CN', PRIVACY_POLICY_VERSION: '2026-01', TRUST_PROXY: '1' } });
});
afterAll(async () => {
  await kalos?.stop();
  await stripe?.close();
});

const consentsOf = async (person: Person) => (await kalos.http.get('/v1/me/consents').set(as(person))).body;

describe('consents', () => {
  test('start not given, record the policy version and time, and keep every change in the history', async () => {
    const person = await aPerson(kalos, 'consent');
    const initial = await consentsOf(person);
    expect(initial).toMatchObject({ object: 'consents', policy_version: '2026-01' });
    expect(initial.consents).toEqual([
      { purpose: 'personalised_recommendations', granted: false, policy_version: null, updated_at: null, history: [] },
      { purpose: 'cross_border_transfer', granted: false, policy_version: null, updated_at: null, history: [] },
    ]);

    const given = await grant(kalos, person, { personalised_recommendations: true }, '2026-01');
    expect(given.status).toBe(200);
    await grant(kalos, person, { personalised_recommendations: true }, '2026-01'); // the same answer again: no new entry
    const withdrawn = await grant(kalos, person, { personalised_recommendations: false }, '2026-01');
    const current = withdrawn.body.consents[0];
    expect(current).toMatchObject({ purpose: 'personalised_recommendations', granted: false, policy_version: '2026-01' });
    expect(current.history.map((entry: { granted: boolean }) => entry.granted)).toEqual([true, false]);
    expect(Date.parse(current.updated_at)).toBe(Date.parse(current.history[1].at));
  });

  test.each([
    ['another policy version', { personalised_recommendations: { granted: true, policy_version: '2025-01' } }, 409, 'policy_version_mismatch'],
    ['an unknown purpose', { marketing_emails: { granted: true, policy_version: '2026-01' } }, 400, 'parameter_unknown'],
    ['no purpose', {}, 400, 'parameter_invalid'],
    ['a granted that is not a boolean', { cross_border_transfer: { granted: 'yes', policy_version: '2026-01' } }, 400, 'parameter_invalid'],
  ])('refuses %s', async (_label, body, status, code) => {
    const person = await aPerson(kalos, 'bad-consent');
    const res = await kalos.http.put('/v1/me/consents').set(as(person)).send(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });
});

describe('recommendations', () => {
  test('are ranked by the categories bought with consent, and the catalog order without it', async () => {
    const person = await aPerson(kalos, 'taste');
    const pass = await checkoutAs(kalos, person, { sku: 'battle_pass_s1' });
    await paySandbox(kalos, person, pass.body.id);

    const anonymous = await kalos.http.get('/v1/recommendations').set(as(person));
    expect(anonymous.body).toMatchObject({ personalised: false, basis: 'catalog_order' });
    expect(anonymous.body.reason).toMatch(/not consented/);
    expect(anonymous.body.data[0].sku).toBe('gems_60');

    await grant(kalos, person, { personalised_recommendations: true }, '2026-01');
    const personal = await kalos.http.get('/v1/recommendations').set(as(person));
    expect(personal.body).toMatchObject({ personalised: true, basis: 'purchase_categories', reason: null });
    expect(personal.body.data[0]).toMatchObject({ sku: 'battle_pass_s1', category: 'pass' });
    expect(personal.body.data).toHaveLength(anonymous.body.data.length);

    await grant(kalos, person, { personalised_recommendations: false }, '2026-01');
    const afterWithdrawal = await kalos.http.get('/v1/recommendations').set(as(person));
    expect(afterWithdrawal.body).toMatchObject({ personalised: false, data: anonymous.body.data });
  });
});

describe('data residency (DATA_REGION=CN)', () => {
  test('a Stripe checkout needs the cross-border consent, then sends Stripe only de-identified data', async () => {
    const person = await aPerson(kalos, 'abroad');
    const refused = await checkoutAs(kalos, person, { provider: 'stripe' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'cross_border_consent_required' });
    expect(await kalos.gateway.db.many('SELECT 1 FROM payments WHERE user_hash = $1', [kalos.gateway.vault.userHash(person.sub)])).toEqual([]);

    await grant(kalos, person, { cross_border_transfer: true }, '2026-01');
    const allowed = await checkoutAs(kalos, person, { provider: 'stripe' });
    expect(allowed.status).toBe(201);
    const sent = stripe.requests.filter((request) => request.path === '/v1/payment_intents' && JSON.stringify(request.params).includes(allowed.body.id));
    expect(sent).toHaveLength(1);
    expect(sent[0].params).toEqual({
      amount: '6000',
      currency: 'cny',
      automatic_payment_methods: { enabled: 'true' },
      capture_method: 'automatic',
      metadata: { payment_id: allowed.body.id },
    });
    for (const identifier of [person.sub, person.device.id as string, person.ip, 'iPhone', '31.23']) expect(JSON.stringify(sent[0])).not.toContain(identifier);

    await grant(kalos, person, { cross_border_transfer: false }, '2026-01');
    expect((await checkoutAs(kalos, person, { provider: 'stripe' })).status).toBe(403);
    expect((await checkoutAs(kalos, person, { provider: 'sandbox' })).status).toBe(201); // in-region needs no consent
  });

  test('a withdrawal between a challenged checkout and its verification keeps the payment from Stripe until consent is back', async () => {
    const person = await aPerson(kalos, 'verify-abroad');
    await grant(kalos, person, { cross_border_transfer: true }, '2026-01');
    const challenged = await checkoutAs(kalos, person, { provider: 'stripe', device: { ...person.device, rooted: true } });
    expect(challenged.body.status).toBe('requires_verification');
    await grant(kalos, person, { cross_border_transfer: false }, '2026-01');

    const verify = async () =>
      kalos.http.post(`/v1/checkouts/${challenged.body.id}/verify`).set(as(person)).send({ step_up_token: await stepUpToken(kalos, person.sub) });
    const refused = await verify();
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('cross_border_consent_required');
    expect(stripe.allIntents().some((intent) => intent.metadata.payment_id === challenged.body.id)).toBe(false);

    await grant(kalos, person, { cross_border_transfer: true }, '2026-01');
    const resumed = await verify();
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'requires_payment', next_action: { type: 'stripe_payment_sheet' } });
  });
});

describe('minors', () => {
  test('a minor without guardian consent is refused and leaves no payment, sealed data or journal row', async () => {
    const person = await aPerson(kalos, 'minor');
    const minor = { ...person, token: await kalos.token(person.sub, { minor: true }) };
    const res = await checkoutAs(kalos, minor);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('guardian_consent_required');
    const userHash = kalos.gateway.vault.userHash(person.sub);
    const db = kalos.gateway.db;
    expect(await db.many('SELECT 1 FROM payments WHERE user_hash = $1', [userHash])).toEqual([]);
    expect(await db.many('SELECT 1 FROM subject_keys WHERE subject_hash = $1', [userHash])).toEqual([]);
    expect(await db.many('SELECT 1 FROM idempotency_keys WHERE user_hash = $1', [userHash])).toEqual([]);
    expect(await db.many(`SELECT 1 FROM risk_decisions WHERE features->'keys'->>'user' = $1`, [userHash])).toEqual([]);
    expect((await kalos.http.get('/v1/orders').set(as(minor))).body.data).toEqual([]);

    const consented = { ...person, token: await kalos.token(person.sub, { minor: true, guardianConsent: true }) };
    expect((await checkoutAs(kalos, consented)).status).toBe(201);
  });
});
