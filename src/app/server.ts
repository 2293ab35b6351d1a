import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../http/app';
import type { Gateway } from './context';

export interface RunningServer {
  url: string;
  /** Stops taking requests, lets in-flight ones finish (up to the grace period), then closes the gateway. */
  shutdown(): Promise<void>;
}

export async function startServer(gateway: Gateway, listen: { host: string; port: number } = gateway.config): Promise<RunningServer> {
  const { headersTimeoutMs, requestTimeoutMs } = gateway.config.http;
  // Node's defaults let a client hold a request open for 300 s. headersTimeout cuts a request whose headers
  // trickle in, requestTimeout caps the time to receive a whole request (a stalled body is cut sooner, by
  // the body read deadline in the app), and the checking interval is what makes either act on time.
  const server = http.createServer(
    { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeoutMs / 4)) },
    createApp(gateway),
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  gateway.selfUrl = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, gateway.config.shutdownGraceMs).unref());
      await Promise.race([drained, grace]);
      server.closeAllConnections();
      await gateway.close();
    })();
    return closing;
  };
  return { url: gateway.selfUrl, shutdown };
}
