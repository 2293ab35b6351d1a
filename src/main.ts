import 'reflect-metadata';
import { createGateway } from './app/context';
import { startServer } from './app/server';
import { ConfigError, loadConfig } from './config';
import { startJobs } from './jobs';

async function main(): Promise<void> {
  const config = loadConfig();
  const gateway = await createGateway(config);
  await startJobs(gateway);
  const server = await startServer(gateway);
  gateway.logger.info(
    { url: server.url, database: gateway.embeddedDatabase ? 'embedded' : 'postgresql', redis: Boolean(gateway.redis), providers: gateway.providers.names },
    'kalos-pay listening',
  );
  if (gateway.embeddedDatabase) gateway.logger.warn({ dataDir: config.dataDir }, 'embedded database and generated keys in DATA_DIR: for trying things out only');

  const stop = (signal: string) => {
    gateway.logger.info({ signal }, 'shutting down');
    server.shutdown().then(
      () => process.exit(0),
      (error) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => gateway.risk.reload());
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(`kalos-pay could not start: ${(error as Error).message}`);
  }
  process.exit(1);
});
