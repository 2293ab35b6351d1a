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
  const server = http.createServer(createApp(gateway));
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
