import { loadConfig } from '../config';
import { connectDatabase } from '../db/connect';

/** `npm run migrate`: applies pending migrations and exits (start-up does the same). */
async function main() {
  const config = loadConfig();
  const database = await connectDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: 1, migrate: true });
  await database.close();
  console.log(`migrations applied (${database.embedded ? 'embedded database' : 'PostgreSQL'})`);
}

main().catch((error) => {
  console.error(`migration failed: ${(error as Error).message}`);
  process.exit(1);
});
