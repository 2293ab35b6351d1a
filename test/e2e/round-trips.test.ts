import { checkout, newKey, startTestGateway, TestGateway } from '../support/gateway';
import { serverUrl } from '../support/databases';
import { redisExpected } from '../support/redis';
import { postSandboxWebhook } from '../support/sandbox-webhooks';

/**
 * The hot path's database round trips, counted through the gateway's pool: every statement it sends,
 * BEGIN and COMMIT included. The figures are the design (see src/payments/checkout.ts and
 * src/webhooks/service.ts); a change that adds a statement to the hot path fails here, not in production.
 */
const setups: Array<[string, { redis?: boolean; embedded?: boolean }]> = [['the embedded database', { embedded: true }]];
// The server setup only when the run was given both (as CI is); the embedded one always runs.
if (serverUrl() && redisExpected()) setups.unshift(['PostgreSQL and Redis', { redis: true }]);

describe.each(setups)('round trips on %s', (_name, options) => {
  let test: TestGateway;

  beforeAll(async () => {
    test = await startTestGateway(options);
  });

  afterAll(async () => {
    await test?.stop();
  });

  async function statementsFor<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> {
    const before = test.gateway.db.roundTrips.count;
    const result = await work();
    return { result, statements: test.gateway.db.roundTrips.count - before };
  }

  let users = 0;
  async function aReturningUser() {
    const token = await test.token(`round-trips-${users++}`);
    expect((await checkout(test, token)).status).toBe(201); // creates the user's data key
    return token;
  }

  // blocklist read; claim + payment + history + decision (share-locking the data key's row against an erasure); session + answer
  it('a checkout of a returning user takes three statements', async () => {
    const token = await aReturningUser();
    const { result, statements } = await statementsFor(() => checkout(test, token));
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ status: 'requires_payment', next_action: { type: 'sandbox_confirm' } });
    expect(statements).toBe(3);
  });

  if (options.redis) {
    it("a checkout makes two Redis writes: the IP's limit first, then the user's limit with the three counter scripts", async () => {
      const token = await aReturningUser();
      const stream = (test.gateway.redis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
      const write = stream.write;
      let writes = 0;
      stream.write = (...args: unknown[]) => {
        writes += 1;
        return write.apply(stream, args);
      };
      try {
        expect((await checkout(test, token)).status).toBe(201);
      } finally {
        stream.write = write;
      }
      expect(writes).toBe(2);
    });
  }

  it("a user's first checkout adds only the read and the creation of their data key", async () => {
    const token = await test.token(`round-trips-first-${users++}`);
    const { result, statements } = await statementsFor(() => checkout(test, token));
    expect(result.status).toBe(201);
    expect(statements).toBe(5);
  });

  it('a replayed checkout reads the key and answers what it answered, in the same few statements', async () => {
    const token = await aReturningUser();
    const key = newKey();
    const first = await checkout(test, token, {}, key);
    const { result, statements } = await statementsFor(() => checkout(test, token, {}, key));
    expect(result.status).toBe(201);
    expect(result.body).toEqual(first.body);
    // the same first step, whose claim finds the key taken (and writes nothing), then the key's read
    expect(statements).toBe(3);
  });

  // no transaction: one read (event id seen? the payment and its facts), one write of fact + state + history + the event's row
  it('a webhook takes two statements, one read and one write; its redelivery only the read', async () => {
    const token = await aReturningUser();
    const payment = (await checkout(test, token)).body as { id: string; amount: number; currency: string };
    const event = { id: `evt_rt_${Date.now()}_${users}`, type: 'payment.succeeded' as const, paymentId: payment.id, amount: payment.amount, currency: payment.currency };
    const delivered = await statementsFor(() => postSandboxWebhook(test, event));
    expect(delivered.result.status).toBe(200);
    expect(delivered.statements).toBe(2);
    const paid = await test.http.get(`/v1/orders/${payment.id}`).set('Authorization', `Bearer ${token}`);
    expect(paid.body.status).toBe('succeeded');

    const redelivered = await statementsFor(() => postSandboxWebhook(test, event));
    expect(redelivered.result.status).toBe(200);
    expect(redelivered.statements).toBe(1);
  });
});
