import net from 'node:net';
import { signSandboxPayload } from '../../src/providers/sandbox/signature';
import { aDevice, newKey, startTestGateway, TestGateway } from '../support/gateway';
import { FakeIdentityService, IDENTITY_AUDIENCE, IDENTITY_ISSUER, startIdentityService } from '../support/identity-service';

const BODY_IDLE_MS = 500;
const HEADERS_MS = 1_000;

/** A raw connection to the gateway that sends what it is told, when it is told, and records the answer. */
function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk.toString()));
  const closed = new Promise<{ answer: string; at: number }>((resolve) => socket.on('close', () => resolve({ answer, at: Date.now() })));
  socket.on('error', () => undefined);
  return { send: (text: string | Buffer) => socket.write(text), closed, destroy: () => socket.destroy() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('slow clients', () => {
  let identity: FakeIdentityService;
  let test: TestGateway;

  beforeAll(async () => {
    identity = await startIdentityService();
    test = await startTestGateway({
      env: {
        HTTP_BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS),
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        APP_JWKS_URL: identity.jwksUrl,
        APP_JWT_ISSUER: IDENTITY_ISSUER,
        APP_JWT_AUDIENCE: IDENTITY_AUDIENCE,
      },
    });
  });
  afterAll(async () => {
    await test.stop();
    await identity.stop();
  });

  // First, while the gateway has not fetched the identity service's keys yet: the fetch is the slow part.
  it('never cuts a request whose body has arrived, however long its handler takes', async () => {
    identity.behaviour = 'slow';
    identity.delayMs = BODY_IDLE_MS * 3;
    try {
      const started = Date.now();
      const res = await test.http
        .post('/v1/checkouts')
        .set('Authorization', `Bearer ${await identity.sign('slow-handler-payer')}`)
        .set('Idempotency-Key', newKey())
        .send({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: 'slow-check-phone' }) });
      expect(res.status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(BODY_IDLE_MS * 3);
    } finally {
      identity.behaviour = 'serve';
    }
  });

  it('cuts a request whose body stops arriving, with 408 request_timeout, after the body read deadline', async () => {
    const client = rawClient(test.url);
    const started = Date.now();
    client.send('POST /v1/checkouts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"sku":"gems_600",');
    const { answer, at } = await client.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"request_timeout"');
    expect(answer).toContain('"param":"body"');
    expect(at - started).toBeGreaterThanOrEqual(BODY_IDLE_MS - 50);
    expect(at - started).toBeLessThan(BODY_IDLE_MS + 2_000);
  });

  it('cuts a request whose headers never finish, after the headers timeout', async () => {
    const client = rawClient(test.url);
    const started = Date.now();
    client.send('GET /v1/catalog HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const { answer, at } = await client.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(at - started).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(at - started).toBeLessThan(HEADERS_MS + 2_000);
  });

  it('reads a 100 kB webhook that trickles in for ten times the deadline, as long as it keeps coming', async () => {
    const token = await identity.sign('patient-payer');
    const payment = await test.http
      .post('/v1/checkouts')
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', newKey())
      .send({ sku: 'gems_600', provider: 'sandbox', device: aDevice({ id: 'patient-phone' }) });
    expect(payment.status).toBe(201);

    const event = { id: 'evt_slow_but_steady', type: 'payment.succeeded', data: { payment_id: payment.body.id, amount: payment.body.amount, currency: payment.body.currency } };
    const json = JSON.stringify(event);
    const body = Buffer.from(json + ' '.repeat(100_000 - json.length));
    const signature = signSandboxPayload(test.gateway.keys.sandboxWebhookSecret!, body, Math.floor(Date.now() / 1000));
    const client = rawClient(test.url);
    client.send(
      `POST /v1/webhooks/sandbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nSandbox-Signature: ${signature}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    const started = Date.now();
    const chunk = 4_000;
    for (let offset = 0; offset < body.length; offset += chunk) {
      client.send(body.subarray(offset, offset + chunk));
      await sleep(BODY_IDLE_MS / 2.5);
    }
    const { answer } = await client.closed;
    expect(Date.now() - started).toBeGreaterThan(BODY_IDLE_MS * 10);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const order = await test.http.get(`/v1/orders/${payment.body.id}`).set('Authorization', `Bearer ${token}`);
    expect(order.body.status).toBe('succeeded');
  }, 30_000);
});
