import { createGateway, Gateway } from '../app/context';
import { loadConfig } from '../config';

/**
 * Runs one CLI command on a gateway built from the environment and prints its answer; a failure prints
 * its message alone (usage text included) and exits 1. The gateway is closed either way.
 */
export async function runGatewayCommand(command: (args: string[], gateway: Gateway) => Promise<string>): Promise<void> {
  try {
    const gateway = await createGateway(loadConfig());
    try {
      console.log(await command(process.argv.slice(2), gateway));
    } finally {
      await gateway.close();
    }
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
