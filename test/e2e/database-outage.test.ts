import net from 'node:net';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/databases';
import { checkout, startTestGateway, TestGateway } from '../support/gateway';

/**
 * PostgreSQL going away under a running gateway: the gateway reaches it through a TCP relay the test
 * cuts, as a restart or a network fault would. Clients get 503 `service_unavailable` with `Retry-After`,
 * never a 500, and the log says so once, not once per request.
 */
const onServer = serverUrl() ? describe : describe.skip;

onServer('a database outage', () => {
  let relay: net.Server;
  const sockets = new Set<net.Socket>();
  let databaseUrl: string | undefined;
  let test: TestGateway;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const target = new URL(databaseUrl!);
    relay = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayed = new URL(databaseUrl!);
    relayed.hostname = '127.0.0.1';
    relayed.port = String((relay.address() as net.AddressInfo).port);
    test = await startTestGateway({ env: { DATABASE_URL: relayed.toString() }, captureLogs: true });
  });

  afterAll(async () => {
    await test?.stop().catch(() => undefined);
    relay?.close();
    await dropTestDatabase(databaseUrl);
  });

  it('answers 503 service_unavailable with Retry-After while PostgreSQL cannot be reached, and logs it once', async () => {
    const token = await test.token('outage-buyer');
    expect((await checkout(test, token)).status).toBe(201);

    relay.close();
    for (const socket of sockets) socket.destroy();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await test.http.get('/v1/orders').set('Authorization', `Bearer ${token}`));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body.error).toMatchObject({ type: 'api_error', code: 'service_unavailable' });
    }
    const outageLines = test.logs.filter((line) => line.includes('database unavailable'));
    expect(outageLines).toHaveLength(1);
    expect(test.logs.filter((line) => line.includes('unhandled error'))).toEqual([]);
  }, 30_000);
});
