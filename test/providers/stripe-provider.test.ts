import { createStripeProvider } from '../../src/providers/stripe/provider';
import { stripeSettingsSchema } from '../../src/providers/stripe/settings';
import { CreateSessionInput, PaymentProvider, ProviderError, ProviderEvent, WebhookVerificationError } from '../../src/providers/types';
import { newId } from '../../src/shared/ids';
import { FAKE_STRIPE_KEYS, FakeStripeApi, signedStripeWebhook } from '../fakes/stripe-api';

let fake: FakeStripeApi;
let stripe: PaymentProvider;

beforeAll(async () => {
  fake = await FakeStripeApi.start();
  const settings = stripeSettingsSchema.parse(fake.env());
  if (!settings.enabled) throw new Error('the fake environment should enable Stripe');
  stripe = createStripeProvider(settings);
});

afterAll(() => fake.close());

function checkout(overrides: Partial<CreateSessionInput> = {}): CreateSessionInput {
  return {
    paymentId: newId('pay'),
    money: { amount: 600, currency: 'CNY' },
    item: { sku: 'gems_600', name: '600 Gems', quantity: 1 },
    idempotencyKey: `checkout-${newId('key')}`,
    captureMethod: 'automatic',
    ...overrides,
  };
}

async function openIntent(overrides: Partial<CreateSessionInput> = {}) {
  const input = checkout(overrides);
  const session = await stripe.createSession(input);
  return { input, session, ref: { paymentId: input.paymentId, providerRef: session.providerRef, money: input.money } };
}

function requestsTo(path: string) {
  return fake.requests.filter((request) => request.path === path);
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  return error;
}

function deliver(event: object | string, options: { secret?: string; timestamp?: number } = {}): Promise<ProviderEvent> {
  const { body, signature } = signedStripeWebhook(event, options);
  return stripe.parseWebhook({ rawBody: Buffer.from(body), headers: { 'stripe-signature': signature, 'content-type': 'application/json' } });
}

describe('checkout session', () => {
  test('creates a PaymentIntent for the amount and currency with only our payment id in metadata', async () => {
    const { input, session } = await openIntent();

    expect(session.providerRef).toMatch(/^pi_/);
    const intent = fake.intent(session.providerRef);
    expect(session.nextAction).toEqual({ type: 'stripe_payment_sheet', client_secret: intent.client_secret, publishable_key: FAKE_STRIPE_KEYS.publishableKey });
    expect(intent.client_secret).toMatch(new RegExp(`^${intent.id}_secret_`));

    const [sent] = requestsTo('/v1/payment_intents').filter((request) => request.idempotencyKey === `kalos:checkout:${input.idempotencyKey}`);
    expect(sent.params).toEqual({
      amount: '600',
      currency: 'cny',
      automatic_payment_methods: { enabled: 'true' },
      capture_method: 'automatic',
      metadata: { payment_id: input.paymentId },
    });
  });

  test('a retried checkout with the same key gets the same intent, never a second one', async () => {
    const input = checkout();
    const first = await stripe.createSession(input);
    const retries = await Promise.all([stripe.createSession(input), stripe.createSession(input)]);

    for (const retry of retries) expect(retry).toEqual(first);
    expect(fake.allIntents().filter((intent) => intent.metadata.payment_id === input.paymentId)).toHaveLength(1);
    const sent = requestsTo('/v1/payment_intents').filter((request) => request.idempotencyKey === `kalos:checkout:${input.idempotencyKey}`);
    expect(sent.map((request) => request.replayed)).toEqual([false, true, true]);
  });

  test('the same checkout key for a different payment is refused, not answered with the first intent', async () => {
    const { input } = await openIntent();
    const error = await failure(stripe.createSession(checkout({ idempotencyKey: input.idempotencyKey })));
    expect(error.kind).toBe('terminal');
    expect(error.message).toContain('idempotency_error');
  });

  test('a payment the risk layer holds is created for manual capture', async () => {
    const { session } = await openIntent({ captureMethod: 'manual' });
    expect(stripe.capabilities.manualCapture).toBe(true);
    expect(fake.intent(session.providerRef).capture_method).toBe('manual');
  });

  test('a zero-decimal currency goes out as its minor units unchanged', async () => {
    const { session } = await openIntent({ money: { amount: 980, currency: 'JPY' } });
    expect(fake.intent(session.providerRef)).toMatchObject({ amount: 980, currency: 'jpy' });
  });
});

describe('capture and cancel', () => {
  test('captures an authorised intent once; capturing it again counts as done', async () => {
    const { ref } = await openIntent({ captureMethod: 'manual' });
    fake.setStatus(ref.providerRef, 'requires_capture');

    await stripe.capture(ref);
    await stripe.capture(ref);

    expect(fake.intent(ref.providerRef)).toMatchObject({ status: 'succeeded', amount_received: 600 });
    const captures = requestsTo(`/v1/payment_intents/${ref.providerRef}/capture`);
    expect(captures.map((request) => request.idempotencyKey)).toEqual([`kalos:capture:${ref.paymentId}`, `kalos:capture:${ref.paymentId}`]);
  });

  test('an intent already captured or canceled at Stripe (say, in the Dashboard) counts as done', async () => {
    const captured = await openIntent({ captureMethod: 'manual' });
    fake.setStatus(captured.ref.providerRef, 'succeeded');
    await stripe.capture(captured.ref);
    const canceled = await openIntent();
    fake.setStatus(canceled.ref.providerRef, 'canceled');
    await stripe.cancel(canceled.ref);

    const refusals = [`/v1/payment_intents/${captured.ref.providerRef}/capture`, `/v1/payment_intents/${canceled.ref.providerRef}/cancel`]
      .flatMap((path) => requestsTo(path))
      .map((request) => request.status);
    expect(refusals).toEqual([400, 400]);
  });

  test('a capture Stripe refuses for another reason is a terminal failure', async () => {
    const { ref } = await openIntent({ captureMethod: 'manual' });
    fake.setStatus(ref.providerRef, 'requires_capture');
    await stripe.cancel(ref);

    const error = await failure(stripe.capture(ref));
    expect(error.kind).toBe('terminal');
    expect(fake.intent(ref.providerRef).status).toBe('canceled');
  });

  test('cancels an open intent; canceling it again counts as done', async () => {
    const { ref } = await openIntent();
    await stripe.cancel(ref);
    await stripe.cancel(ref);
    expect(fake.intent(ref.providerRef).status).toBe('canceled');
    expect(requestsTo(`/v1/payment_intents/${ref.providerRef}/cancel`).every((request) => request.idempotencyKey === `kalos:cancel:${ref.paymentId}`)).toBe(true);
  });

  test('an intent that already succeeded cannot be canceled', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    expect((await failure(stripe.cancel(ref))).kind).toBe('terminal');
    expect(fake.intent(ref.providerRef).status).toBe('succeeded');
  });
});

describe('refunds', () => {
  test('a partial then a full refund, each keyed by our refund id and carrying only our ids', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    const refund = (refundId: string, amount: number) =>
      stripe.refund({ ...ref, refundId, money: { amount, currency: 'CNY' }, paymentMoney: ref.money });

    const partial = await refund('re_partial00000001', 200);
    const retried = await refund('re_partial00000001', 200);
    const rest = await refund('re_rest0000000001', 400);

    expect(partial).toEqual({ providerRefundId: expect.stringMatching(/^re_/), state: 'succeeded' });
    expect(retried).toEqual(partial);
    expect(rest.state).toBe('succeeded');
    expect(fake.refundsOf(ref.providerRef).map((r) => [r.amount, r.metadata])).toEqual([
      [200, { refund_id: 're_partial00000001', payment_id: ref.paymentId }],
      [400, { refund_id: 're_rest0000000001', payment_id: ref.paymentId }],
    ]);
    // The retry is answered from Stripe's list of the intent's refunds: no second create, whatever the key's age.
    const creates = requestsTo('/v1/refunds').filter((r) => r.method === 'POST' && r.params.payment_intent === ref.providerRef);
    expect(creates.map((r) => r.idempotencyKey)).toEqual(['kalos:refund:re_partial00000001', 'kalos:refund:re_rest0000000001']);

    const beyond = await failure(refund('re_beyond000000001', 1));
    expect(beyond.kind).toBe('terminal');
    expect(fake.refundsOf(ref.providerRef)).toHaveLength(2);
  });
});

describe('status sync', () => {
  test('reads each PaymentIntent status as our state, with a stable observation id', async () => {
    const { ref } = await openIntent({ captureMethod: 'manual' });
    const observe = async () => (await stripe.fetchStatus(ref)).state;

    expect(await observe()).toBe('pending');
    fake.setStatus(ref.providerRef, 'requires_action');
    expect(await observe()).toBe('pending');
    fake.decline(ref.providerRef);
    expect(await observe()).toBe('failed');
    fake.setStatus(ref.providerRef, 'processing');
    expect(await observe()).toBe('processing');
    fake.setStatus(ref.providerRef, 'requires_capture');
    expect(await observe()).toBe('authorized');
    fake.setStatus(ref.providerRef, 'succeeded');
    const first = await stripe.fetchStatus(ref);
    const again = await stripe.fetchStatus(ref);
    expect(first).toEqual({ state: 'succeeded', money: { amount: 600, currency: 'CNY' }, observationId: `${ref.providerRef}:succeeded` });
    expect(again.observationId).toBe(first.observationId);
  });

  test('a canceled intent reads as canceled', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'canceled');
    expect((await stripe.fetchStatus(ref)).state).toBe('canceled');
  });

  test('reports the amount Stripe actually received, so a mismatch can be caught', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded', { amount_received: 500 });
    expect((await stripe.fetchStatus(ref)).money).toEqual({ amount: 500, currency: 'CNY' });
  });

  test('a status this SDK version does not know is indeterminate, never guessed', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'requires_reauthorization' as never);
    expect((await failure(stripe.fetchStatus(ref))).kind).toBe('indeterminate');
  });
});

describe('failures are sorted by what the caller must do', () => {
  test.each([
    [429, 'invalid_request_error', 'retryable', 'rate_limit'],
    [500, 'api_error', 'indeterminate', undefined],
    [402, 'card_error', 'terminal', 'card_declined'],
    [401, 'invalid_request_error', 'terminal', undefined],
  ])('HTTP %i %s is %s', async (status, type, kind, code) => {
    const { ref } = await openIntent();
    fake.failNext(status, type, 'Injected by the test.', code);
    expect((await failure(stripe.fetchStatus(ref))).kind).toBe(kind);
  });
});

describe('webhooks', () => {
  test.each([
    ['payment_intent.succeeded', 'succeeded', 'succeeded'],
    ['payment_intent.processing', 'processing', 'processing'],
    ['payment_intent.amount_capturable_updated', 'authorized', 'requires_capture'],
    ['payment_intent.canceled', 'canceled', 'canceled'],
  ] as const)('%s → payment %s', async (type, state, intentStatus) => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, intentStatus);
    const event = fake.intentEvent(type, ref.providerRef);

    expect(await deliver(event)).toEqual({
      kind: 'payment',
      eventId: event.id,
      ref: { paymentId: ref.paymentId, providerRef: ref.providerRef },
      state,
      money: { amount: 600, currency: 'CNY' },
      // Stripe's own time of the event, which orders a payer's attempts however late it is delivered.
      occurredAt: new Date(event.created * 1000),
    });
  });

  test('payment_intent.payment_failed → payment failed', async () => {
    const { ref } = await openIntent();
    fake.decline(ref.providerRef);
    expect(await deliver(fake.intentEvent('payment_intent.payment_failed', ref.providerRef))).toMatchObject({ kind: 'payment', state: 'failed' });
  });

  test('a succeeded event carries the amount Stripe received, not ours', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded', { amount_received: 1, currency: 'usd' });
    expect(await deliver(fake.intentEvent('payment_intent.succeeded', ref.providerRef))).toMatchObject({ money: { amount: 1, currency: 'USD' } });
  });

  test('charge.refunded reports the refund just made, looked up for our refund id, and the total so far', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    const refund = (refundId: string, amount: number) => stripe.refund({ ...ref, refundId, money: { amount, currency: 'CNY' }, paymentMoney: ref.money });

    const first = await refund('re_first0000000001', 150);
    const partial = await deliver(fake.chargeRefundedEvent(ref.providerRef));
    const second = await refund('re_second000000001', 450);
    const full = await deliver(fake.chargeRefundedEvent(ref.providerRef));

    expect(partial).toMatchObject({
      kind: 'refund',
      ref: { paymentId: ref.paymentId, providerRef: ref.providerRef },
      refund: { refundId: 're_first0000000001', providerRefundId: first.providerRefundId, money: { amount: 150, currency: 'CNY' }, state: 'succeeded', totalRefunded: 150 },
    });
    expect(full).toMatchObject({
      kind: 'refund',
      refund: { refundId: 're_second000000001', providerRefundId: second.providerRefundId, money: { amount: 450, currency: 'CNY' }, totalRefunded: 600 },
    });
    const charge = fake.intent(ref.providerRef).latest_charge!;
    const lookups = fake.requests.filter((request) => request.method === 'GET' && request.path === '/v1/refunds' && request.params.charge === charge);
    expect(lookups).toHaveLength(2);
    expect(lookups[0].params).toEqual({ charge, created: { lte: expect.stringMatching(/^\d+$/) }, limit: '1' });
  });

  test('charge.refunded reads the refund from the charge, without a lookup, when the charge lists its refunds', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    await stripe.refund({ ...ref, refundId: 're_listed00000001', money: { amount: 100, currency: 'CNY' }, paymentMoney: ref.money });
    const [stored] = fake.refundsOf(ref.providerRef);
    const charge = { ...fake.chargeOf(ref.providerRef), refunds: { object: 'list', data: [stored], has_more: false } };
    const lookupsBefore = fake.requests.filter((request) => request.path === '/v1/refunds' && request.method === 'GET').length;

    expect(await deliver(fake.event('charge.refunded', charge))).toMatchObject({
      kind: 'refund',
      refund: { refundId: 're_listed00000001', providerRefundId: stored.id, money: { amount: 100, currency: 'CNY' }, totalRefunded: 100 },
    });
    expect(fake.requests.filter((request) => request.path === '/v1/refunds' && request.method === 'GET')).toHaveLength(lookupsBefore);
  });

  test('charge.refunded without a refund to read reports the growth of amount_refunded', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    const charge = { ...fake.chargeOf(ref.providerRef), id: 'ch_madeInTheDashboard01', amount_refunded: 350 };

    expect(await deliver(fake.event('charge.refunded', charge, { amount_refunded: 100 }))).toMatchObject({
      kind: 'refund',
      refund: { refundId: undefined, providerRefundId: undefined, money: { amount: 250, currency: 'CNY' }, totalRefunded: 350 },
    });
  });

  test('refund.updated reports a refund that was pending when made and has now settled', async () => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    await stripe.refund({ ...ref, refundId: 're_slowBank0000001', money: { amount: 300, currency: 'CNY' }, paymentMoney: ref.money });
    const [stored] = fake.refundsOf(ref.providerRef);

    expect(await deliver(fake.settleRefund(stored.id, 'failed'))).toMatchObject({
      kind: 'refund',
      ref: { paymentId: ref.paymentId, providerRef: ref.providerRef },
      refund: { refundId: 're_slowBank0000001', providerRefundId: stored.id, money: { amount: 300, currency: 'CNY' }, state: 'failed' },
    });
  });

  test.each([
    ['charge.dispute.created', 'needs_response', 'opened'],
    ['charge.dispute.closed', 'won', 'won'],
    ['charge.dispute.closed', 'warning_closed', 'won'],
    ['charge.dispute.closed', 'lost', 'lost'],
  ] as const)('%s with status %s → dispute %s, found through the payment intent', async (type, status, outcome) => {
    const { ref } = await openIntent();
    fake.setStatus(ref.providerRef, 'succeeded');
    expect(await deliver(fake.disputeEvent(type, ref.providerRef, status))).toMatchObject({
      kind: 'dispute',
      ref: { providerRef: ref.providerRef },
      dispute: outcome,
      disputeId: expect.stringMatching(/^dp_/),
    });
  });

  test('an event type we do not act on is verified and ignored', async () => {
    const event = fake.event('customer.created', { id: 'cus_0000000000000001', object: 'customer' });
    expect(await deliver(event)).toEqual({ kind: 'ignored', eventId: event.id, type: 'customer.created' });
  });

  test('an event signed 290 s ago is still inside the tolerance', async () => {
    const event = fake.event('customer.created', { id: 'cus_0000000000000001', object: 'customer' });
    expect(await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 290 })).toMatchObject({ kind: 'ignored' });
  });

  describe('is refused with WebhookVerificationError when', () => {
    let signed: { body: string; signature: string };
    beforeAll(async () => {
      const { ref } = await openIntent();
      fake.setStatus(ref.providerRef, 'succeeded');
      signed = signedStripeWebhook(fake.intentEvent('payment_intent.succeeded', ref.providerRef));
    });

    const parse = (body: string, headers: Record<string, string>) => stripe.parseWebhook({ rawBody: Buffer.from(body), headers });

    test('the body was tampered with after signing', async () => {
      const tampered = signed.body.replace('"amount": 600', '"amount": 6');
      expect(tampered).not.toBe(signed.body);
      await expect(parse(tampered, { 'stripe-signature': signed.signature })).rejects.toThrow(WebhookVerificationError);
    });

    test('it was signed with another secret', async () => {
      const other = signedStripeWebhook(signed.body, { secret: 'whsec_someoneElsesSecret0001' });
      await expect(parse(other.body, { 'stripe-signature': other.signature })).rejects.toThrow(WebhookVerificationError);
    });

    test('its timestamp is older than 300 s', async () => {
      const stale = signedStripeWebhook(signed.body, { timestamp: Math.floor(Date.now() / 1000) - 301 });
      await expect(parse(stale.body, { 'stripe-signature': stale.signature })).rejects.toThrow('Timestamp outside the tolerance zone');
    });

    test('the Stripe-Signature header is missing or empty', async () => {
      await expect(parse(signed.body, {})).rejects.toThrow(WebhookVerificationError);
      await expect(parse(signed.body, { 'stripe-signature': '' })).rejects.toThrow(WebhookVerificationError);
    });

    test('a correctly signed body is not JSON', async () => {
      const garbage = signedStripeWebhook('{"id": "evt_1", "type": ');
      await expect(parse(garbage.body, { 'stripe-signature': garbage.signature })).rejects.toThrow(WebhookVerificationError);
    });

    test('and the untouched original is accepted', async () => {
      await expect(parse(signed.body, { 'stripe-signature': signed.signature })).resolves.toMatchObject({ kind: 'payment', state: 'succeeded' });
    });
  });
});
