import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A small stand-in for the Stripe API, driven by the real `stripe` SDK. It checks what the SDK sends the way
 * Stripe would (form-encoded params, secret key, idempotency keys) plus what kalos-pay promises on top: every
 * POST carries our own Idempotency-Key, and nothing but opaque ids ever goes into metadata or any other param.
 * Tests play Stripe's side with `setStatus` / `decline`, then send webhooks built by the event helpers.
 */

export const FAKE_STRIPE_KEYS = {
  secretKey: 'sk_test_kalosFakeSecretKey0001',
  publishableKey: 'pk_test_kalosFakePublishableKey0001',
  webhookSecret: 'whsec_kalosFakeWebhookSecret0001',
} as const;

export interface FormParams {
  [name: string]: string | FormParams;
}

export interface RecordedRequest {
  method: string;
  path: string;
  params: FormParams;
  idempotencyKey?: string;
  status: number;
  replayed: boolean;
}

type IntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'requires_capture' | 'succeeded' | 'canceled';

export interface FakePaymentIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_capturable: number;
  amount_received: number;
  currency: string;
  capture_method: string;
  client_secret: string;
  status: IntentStatus;
  metadata: Record<string, string>;
  latest_charge: string | null;
  last_payment_error: { type: string; code: string; decline_code?: string; message: string } | null;
  automatic_payment_methods: { enabled: boolean } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  created: number;
  livemode: false;
}

export interface FakeRefund {
  id: string;
  object: 'refund';
  amount: number;
  currency: string;
  payment_intent: string;
  charge: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  metadata: Record<string, string>;
  created: number;
}

export interface FakeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  type: string;
  data: { object: object; previous_attributes?: object };
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  /** Every param this route accepts; anything else is refused, the way Stripe refuses unknown params. */
  accepts: readonly string[];
  handle: (params: FormParams, id: string) => Reply;
}

/** Metadata may only hold our opaque ids (`pay_…`, `re_…`): no names, e-mails, user or device ids. */
const METADATA_KEYS = new Set(['payment_id', 'refund_id']);
const OPAQUE_ID = /^[a-z]{2,8}_[A-Za-z0-9]{8,64}$/;
const CANCELABLE: readonly IntentStatus[] = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];

class FakeStripeError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly details: { code?: string; param?: string; payment_intent?: FakePaymentIntent } = {},
  ) {
    super(message);
  }

  reply(): Reply {
    return { status: this.status, body: { error: { type: this.type, message: this.message, ...this.details } } };
  }
}

const invalid = (message: string, details: FakeStripeError['details'] = {}) => new FakeStripeError(400, 'invalid_request_error', message, details);

export class FakeStripeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly intents = new Map<string, FakePaymentIntent>();
  private readonly refunds: FakeRefund[] = [];
  private readonly disputeIds = new Map<string, string>();
  private readonly idempotent = new Map<string, { fingerprint: string; reply: Reply }>();
  private readonly injectedFailures: Reply[] = [];
  private readonly injectedPathFailures: { path: RegExp; reply: Reply }[] = [];
  private holdingNextRefund = false;
  private readonly routes: Route[] = [
    { method: 'POST', path: /^\/v1\/payment_intents$/, accepts: ['amount', 'currency', 'automatic_payment_methods', 'capture_method', 'metadata'], handle: (p) => this.createIntent(p) },
    { method: 'GET', path: /^\/v1\/payment_intents\/(pi_\w+)$/, accepts: [], handle: (_p, id) => ok(this.intent(id)) },
    { method: 'POST', path: /^\/v1\/payment_intents\/(pi_\w+)\/capture$/, accepts: ['amount_to_capture'], handle: (p, id) => this.capture(p, id) },
    { method: 'POST', path: /^\/v1\/payment_intents\/(pi_\w+)\/cancel$/, accepts: ['cancellation_reason'], handle: (_p, id) => this.cancel(id) },
    { method: 'POST', path: /^\/v1\/refunds$/, accepts: ['payment_intent', 'amount', 'metadata'], handle: (p) => this.createRefund(p) },
    { method: 'GET', path: /^\/v1\/refunds$/, accepts: ['charge', 'payment_intent', 'created', 'limit'], handle: (p) => this.listRefunds(p) },
  ];

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<FakeStripeApi> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeStripeApi(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    // A bug in the fake answers 500 with its message rather than leaving the SDK waiting.
    server.on('request', (req, res) => fake.serve(req, res).catch((error: Error) => res.writeHead(500).end(error.stack)));
    return fake;
  }

  /** The environment that points kalos-pay at this fake. */
  env(): Record<string, string> {
    return {
      STRIPE_SECRET_KEY: FAKE_STRIPE_KEYS.secretKey,
      STRIPE_PUBLISHABLE_KEY: FAKE_STRIPE_KEYS.publishableKey,
      STRIPE_WEBHOOK_SECRET: FAKE_STRIPE_KEYS.webhookSecret,
      STRIPE_API_BASE: this.url,
    };
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  intent(id: string): FakePaymentIntent {
    const intent = this.intents.get(id);
    if (!intent) throw new FakeStripeError(404, 'invalid_request_error', `No such payment_intent: '${id}'`, { code: 'resource_missing', param: 'intent' });
    return intent;
  }

  allIntents(): FakePaymentIntent[] {
    return [...this.intents.values()];
  }

  refundsOf(intentId: string): FakeRefund[] {
    return this.refunds.filter((refund) => refund.payment_intent === intentId);
  }

  /** Plays what happened at Stripe (the buyer paid, the bank is slow, ...), keeping the intent's fields consistent. */
  setStatus(id: string, status: IntentStatus, overrides: Partial<FakePaymentIntent> = {}): FakePaymentIntent {
    const intent = this.intent(id);
    Object.assign(intent, fieldsFor(intent, status), overrides);
    return intent;
  }

  /** The buyer's card was declined: Stripe reopens the intent for another attempt and records the error. */
  decline(id: string): FakePaymentIntent {
    return this.setStatus(id, 'requires_payment_method', {
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
    });
  }

  /** The next refund stays pending, as with slow methods or bank checks, until `settleRefund`. */
  holdNextRefund(): void {
    this.holdingNextRefund = true;
  }

  /** A pending refund succeeds or fails at Stripe: answers the refund.updated event Stripe sends. */
  settleRefund(refundId: string, status: 'succeeded' | 'failed'): FakeEvent {
    const refund = this.refunds.find((candidate) => candidate.id === refundId);
    if (!refund) throw new Error(`no refund ${refundId}`);
    const previous = { status: refund.status };
    refund.status = status;
    return this.event('refund.updated', refund, previous);
  }

  /** The next request gets this error instead of being served; `Stripe-Should-Retry: false` keeps the SDK from waiting to retry. */
  failNext(status: number, type: string, message: string, code?: string): void {
    this.injectedFailures.push({ status, body: { error: { type, message, code } }, headers: { 'Stripe-Should-Retry': 'false' } });
  }

  /**
   * Like `failNext`, but only for the next request whose path matches `path` (say, one intent's `/cancel`);
   * requests to other paths are served as usual.
   */
  failNextTo(path: RegExp, status: number, type: string, message: string, code?: string): void {
    this.injectedPathFailures.push({ path, reply: { status, body: { error: { type, message, code } }, headers: { 'Stripe-Should-Retry': 'false' } } });
  }

  /**
   * Someone refunds in the Stripe dashboard: a refund that succeeds at once and carries none of our metadata.
   * Stripe then sends charge.refunded (build it with `chargeRefundedEvent`).
   */
  dashboardRefund(intentId: string, amount: number): FakeRefund {
    const intent = this.intent(intentId);
    if (intent.status !== 'succeeded') throw new Error(`dashboard refund of ${intentId}: the intent is ${intent.status}, not succeeded`);
    const refunded = this.refundsOf(intentId).reduce((sum, refund) => sum + refund.amount, 0);
    if (amount < 1 || amount > intent.amount_received - refunded) throw new Error(`dashboard refund of ${amount}: only ${intent.amount_received - refunded} is left`);
    const refund: FakeRefund = {
      id: randomId('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intent.id,
      charge: intent.latest_charge,
      status: 'succeeded',
      metadata: {},
      created: now(),
    };
    this.refunds.push(refund);
    return refund;
  }

  /** A Stripe event envelope around a snapshot of `object`, as Stripe would post it. */
  event(type: string, object: object, previousAttributes?: object): FakeEvent {
    return {
      id: randomId('evt'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: now(),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object: structuredClone(object), ...(previousAttributes && { previous_attributes: previousAttributes }) },
    };
  }

  intentEvent(type: `payment_intent.${string}`, intentId: string): FakeEvent {
    return this.event(type, this.intent(intentId));
  }

  /** charge.refunded after the latest refund, shaped like API versions since 2022-11-15 (no refunds list on the charge). */
  chargeRefundedEvent(intentId: string): FakeEvent {
    const charge = this.chargeOf(intentId);
    const latest = this.refundsOf(intentId).at(-1);
    const before = charge.amount_refunded - (latest?.amount ?? 0);
    return this.event('charge.refunded', charge, { amount_refunded: before, refunded: false });
  }

  disputeEvent(type: 'charge.dispute.created' | 'charge.dispute.closed', intentId: string, status: string): FakeEvent {
    const intent = this.intent(intentId);
    const disputeId = this.disputeIds.get(intentId) ?? randomId('dp');
    this.disputeIds.set(intentId, disputeId);
    const dispute = { id: disputeId, object: 'dispute', amount: intent.amount_received, currency: intent.currency, charge: intent.latest_charge, payment_intent: intent.id, reason: 'fraudulent', status, created: now(), livemode: false };
    return this.event(type, dispute);
  }

  chargeOf(intentId: string) {
    const intent = this.intent(intentId);
    const refunded = this.refundsOf(intentId).reduce((sum, refund) => sum + refund.amount, 0);
    return {
      id: intent.latest_charge ?? randomId('ch'),
      object: 'charge',
      amount: intent.amount_received || intent.amount,
      amount_captured: intent.amount_received,
      amount_refunded: refunded,
      captured: intent.amount_received > 0,
      currency: intent.currency,
      metadata: { ...intent.metadata },
      payment_intent: intent.id,
      refunded: refunded > 0 && refunded === intent.amount_received,
      status: 'succeeded',
      livemode: false,
    };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', this.url);
    const idempotencyKey = header(req, 'idempotency-key');
    const params = parseForm(req.method === 'POST' ? body : url.search.slice(1));
    const { reply, replayed } = this.answer(req, url.pathname, params, idempotencyKey);
    this.requests.push({ method: req.method ?? '', path: url.pathname, params, idempotencyKey, status: reply.status, replayed });
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Request-Id': randomId('req'), ...reply.headers, ...(replayed && { 'Idempotent-Replayed': 'true' }) });
    res.end(JSON.stringify(reply.body));
  }

  private answer(req: IncomingMessage, path: string, params: FormParams, idempotencyKey: string | undefined): { reply: Reply; replayed: boolean } {
    try {
      const injected = this.injectedFailures.shift();
      if (injected) return { reply: injected, replayed: false };
      const forPath = this.injectedPathFailures.findIndex((failure) => failure.path.test(path));
      if (forPath >= 0) return { reply: this.injectedPathFailures.splice(forPath, 1)[0].reply, replayed: false };
      checkRequest(req, idempotencyKey);
      if (req.method !== 'POST' || !idempotencyKey) return { reply: this.route(req, path, params), replayed: false };
      return this.idempotently(idempotencyKey, `${path} ${JSON.stringify(params)}`, () => this.route(req, path, params));
    } catch (error) {
      if (error instanceof FakeStripeError) return { reply: error.reply(), replayed: false };
      throw error;
    }
  }

  /** Stripe's rule: a key seen before replays the first answer, unless the params differ. */
  private idempotently(key: string, fingerprint: string, run: () => Reply): { reply: Reply; replayed: boolean } {
    const seen = this.idempotent.get(key);
    if (seen && seen.fingerprint !== fingerprint) {
      throw new FakeStripeError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`);
    }
    if (seen) return { reply: seen.reply, replayed: true };
    let reply: Reply;
    try {
      reply = run();
    } catch (error) {
      if (!(error instanceof FakeStripeError)) throw error;
      reply = error.reply();
    }
    this.idempotent.set(key, { fingerprint, reply });
    return { reply, replayed: false };
  }

  private route(req: IncomingMessage, path: string, params: FormParams): Reply {
    for (const route of this.routes) {
      const match = route.method === req.method ? route.path.exec(path) : null;
      if (!match) continue;
      checkParams(params, route.accepts);
      return route.handle(params, match[1]);
    }
    throw new FakeStripeError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${path}).`);
  }

  private createIntent(params: FormParams): Reply {
    const amount = positiveInteger(params, 'amount');
    const currency = text(params, 'currency');
    if (!/^[a-z]{3}$/.test(currency)) throw invalid(`Invalid currency: ${currency}. Currencies go lower-case on the wire.`, { param: 'currency' });
    const captureMethod = params.capture_method === undefined ? 'automatic_async' : text(params, 'capture_method');
    if (!['automatic', 'automatic_async', 'manual'].includes(captureMethod)) throw invalid(`Invalid capture_method: ${captureMethod}`, { param: 'capture_method' });
    const automatic = params.automatic_payment_methods;
    const id = randomId('pi');
    const intent: FakePaymentIntent = {
      id,
      object: 'payment_intent',
      amount,
      amount_capturable: 0,
      amount_received: 0,
      currency,
      capture_method: captureMethod,
      client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
      status: 'requires_payment_method',
      metadata: metadata(params),
      latest_charge: null,
      last_payment_error: null,
      automatic_payment_methods: typeof automatic === 'object' ? { enabled: automatic.enabled === 'true' } : null,
      canceled_at: null,
      cancellation_reason: null,
      created: now(),
      livemode: false,
    };
    this.intents.set(id, intent);
    return ok(intent);
  }

  private capture(params: FormParams, id: string): Reply {
    const intent = this.intent(id);
    if (intent.status !== 'requires_capture') throw unexpectedState(intent, 'captured');
    const amount = params.amount_to_capture === undefined ? intent.amount_capturable : positiveInteger(params, 'amount_to_capture');
    if (amount > intent.amount_capturable) throw invalid('The amount to capture is greater than the amount capturable.', { param: 'amount_to_capture' });
    return ok(this.setStatus(id, 'succeeded', { amount_received: amount }));
  }

  private cancel(id: string): Reply {
    const intent = this.intent(id);
    if (!CANCELABLE.includes(intent.status)) throw unexpectedState(intent, 'canceled');
    return ok(this.setStatus(id, 'canceled'));
  }

  private createRefund(params: FormParams): Reply {
    const intent = this.intent(text(params, 'payment_intent'));
    if (intent.status !== 'succeeded') throw invalid(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, { code: 'charge_not_refundable' });
    const refunded = this.refundsOf(intent.id).reduce((sum, refund) => sum + refund.amount, 0);
    const remaining = intent.amount_received - refunded;
    if (remaining === 0) throw invalid(`Charge ${intent.latest_charge} has already been refunded.`, { code: 'charge_already_refunded' });
    const amount = params.amount === undefined ? remaining : positiveInteger(params, 'amount');
    if (amount > remaining) throw invalid(`Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, { code: 'amount_too_large', param: 'amount' });
    const refund: FakeRefund = {
      id: randomId('re'),
      object: 'refund',
      amount,
      currency: intent.currency,
      payment_intent: intent.id,
      charge: intent.latest_charge,
      status: this.holdingNextRefund ? 'pending' : 'succeeded',
      metadata: metadata(params),
      created: now(),
    };
    this.refunds.push(refund);
    this.holdingNextRefund = false;
    return ok(refund);
  }

  /** Newest first, like Stripe; filters by charge, payment_intent and `created[lte]`, the ones kalos-pay uses. */
  private listRefunds(params: FormParams): Reply {
    const created = params.created;
    const createdBy = typeof created === 'object' && created.lte !== undefined ? positiveInteger(created, 'lte') : Infinity;
    const limit = params.limit === undefined ? 10 : positiveInteger(params, 'limit');
    const matching = this.refunds
      .filter(
        (refund) =>
          (params.charge === undefined || refund.charge === params.charge) &&
          (params.payment_intent === undefined || refund.payment_intent === params.payment_intent) &&
          refund.created <= createdBy,
      )
      .reverse();
    return ok({ object: 'list', url: '/v1/refunds', data: matching.slice(0, limit), has_more: matching.length > limit });
  }
}

function fieldsFor(intent: FakePaymentIntent, status: IntentStatus): Partial<FakePaymentIntent> {
  const charge = intent.latest_charge ?? randomId('ch');
  switch (status) {
    case 'succeeded':
      return { status, amount_received: intent.amount, amount_capturable: 0, latest_charge: charge, last_payment_error: null };
    case 'requires_capture':
      return { status, amount_capturable: intent.amount, latest_charge: charge, last_payment_error: null };
    case 'canceled':
      return { status, amount_capturable: 0, canceled_at: now(), cancellation_reason: 'requested_by_customer' };
    default:
      return { status };
  }
}

function checkRequest(req: IncomingMessage, idempotencyKey: string | undefined): void {
  if (header(req, 'authorization') !== `Bearer ${FAKE_STRIPE_KEYS.secretKey}`) {
    throw new FakeStripeError(401, 'invalid_request_error', 'Invalid API Key provided.');
  }
  if (req.method !== 'POST') return;
  if (!header(req, 'content-type')?.startsWith('application/x-www-form-urlencoded')) {
    throw invalid('Stripe takes form-encoded bodies (use the SDK, not hand-made HTTP).');
  }
  if (!idempotencyKey) throw invalid('This fake requires an Idempotency-Key on every POST.');
  if (idempotencyKey.startsWith('stripe-node-retry-')) {
    throw invalid('kalos-pay must pass its own idempotency key; this one was generated by the SDK.');
  }
}

/** Refuses any param the route does not take: that is where a name, an e-mail or a device id would slip in. */
function checkParams(params: FormParams, accepts: readonly string[]): void {
  for (const name of Object.keys(params)) {
    if (!accepts.includes(name)) throw invalid(`Received unknown parameter: ${name}. kalos-pay sends no personal data to Stripe.`, { code: 'parameter_unknown', param: name });
  }
}

function metadata(params: FormParams): Record<string, string> {
  const values = params.metadata ?? {};
  if (typeof values === 'string') throw invalid('Invalid metadata: must be a hash.', { param: 'metadata' });
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (!METADATA_KEYS.has(key)) throw invalid(`metadata[${key}] is not allowed: only payment_id and refund_id may leave kalos-pay.`, { code: 'parameter_invalid', param: `metadata[${key}]` });
    if (typeof value !== 'string' || !OPAQUE_ID.test(value)) throw invalid(`metadata[${key}] must be an opaque id, not free text.`, { code: 'parameter_invalid', param: `metadata[${key}]` });
    out[key] = value;
  }
  return out;
}

function unexpectedState(intent: FakePaymentIntent, verb: string): FakeStripeError {
  return invalid(`This PaymentIntent could not be ${verb} because it has a status of ${intent.status}.`, {
    code: 'payment_intent_unexpected_state',
    payment_intent: intent,
  });
}

function text(params: FormParams, name: string): string {
  const value = params[name];
  if (typeof value !== 'string' || value === '') throw invalid(`Missing required param: ${name}.`, { code: 'parameter_missing', param: name });
  return value;
}

function positiveInteger(params: FormParams, name: string): number {
  const value = text(params, name);
  if (!/^[1-9]\d{0,11}$/.test(value)) throw invalid(`Invalid integer: ${value}`, { code: 'parameter_invalid_integer', param: name });
  return Number(value);
}

/** `metadata[payment_id]=pay_1` → `{ metadata: { payment_id: 'pay_1' } }`, the SDK's (and Stripe's) bracket notation. */
export function parseForm(encoded: string): FormParams {
  const root: FormParams = {};
  for (const [name, value] of new URLSearchParams(encoded)) {
    const path = name.replace(/\]/g, '').split('[');
    let node = root;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      node = typeof next === 'object' ? next : (node[segment] = {});
    }
    node[path[path.length - 1]] = value;
  }
  return root;
}

/**
 * A webhook body and its `Stripe-Signature`, signed by the SDK's own test helper exactly as Stripe signs.
 * Defaults: the fake's webhook secret, signed now.
 */
export function signedStripeWebhook(event: object | string, options: { secret?: string; timestamp?: number } = {}): { body: string; signature: string } {
  const body = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
  const signature = Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? FAKE_STRIPE_KEYS.webhookSecret,
    timestamp: options.timestamp,
  });
  return { body, signature };
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const now = () => Math.floor(Date.now() / 1000);
const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
