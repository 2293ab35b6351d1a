import type { Config } from '../config';
import { connectDatabase } from '../db/connect';

export const MIGRATE_USAGE = 'usage: kalos migrate    apply pending migrations and exit (start-up does the same; run it as a release step)';

/** Applies pending migrations under the same advisory lock as start-up, so it can run beside replicas. */
export async function runMigrateCommand(args: string[], config: Config): Promise<string> {
  if (args.length > 0) throw new Error(MIGRATE_USAGE);
  const database = await connectDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: 1, migrate: true });
  await database.close();
  return `migrations applied (${database.embedded ? 'embedded database' : 'PostgreSQL'})`;
}
