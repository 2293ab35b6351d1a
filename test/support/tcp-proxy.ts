import net from 'node:net';

/**
 * A TCP relay in front of the test PostgreSQL, so a test can take the database away the way an outage
 * does (connections reset, new ones refused, or accepted and never answered) and bring it back on the
 * same address.
 */
export interface TcpProxy {
  port: number;
  /** Resets every open connection and stops listening: new connections are refused. */
  down(): Promise<void>;
  /** Accepts connections again, but holds them silent: the server looks up and never answers. */
  stall(): Promise<void>;
  /** Relays again, on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let mode: 'relay' | 'stall' = 'relay';
  let server: net.Server | undefined;
  let port = 0;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        track(client);
        if (mode === 'stall') return;
        const upstream = net.connect(target.port, target.host);
        track(upstream);
        client.pipe(upstream).pipe(client);
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.resetAndDestroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });

  await listen();
  return {
    get port() {
      return port;
    },
    down: stop,
    async stall() {
      await stop();
      mode = 'stall';
      await listen();
    },
    async up() {
      await stop();
      mode = 'relay';
      await listen();
    },
    close: stop,
  };
}
