import { createGateway, Gateway } from '../app/context';
import { loadConfig } from '../config';

/**
 * Runs one command on a gateway built from the environment's settings, prints its answer and closes the
 * gateway; a failure prints its message alone and exits 1. For `npm run <command>` until the `kalos` CLI
 * takes the commands over.
 */
export function runStandalone(command: (args: string[], gateway: Gateway) => Promise<string>): void {
  const main = async () => {
    const gateway = await createGateway(loadConfig());
    try {
      console.log(await command(process.argv.slice(2), gateway));
    } finally {
      await gateway.close();
    }
  };
  main().catch((error) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
