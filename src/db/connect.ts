import { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { Database } from './database';
import { startEmbedded } from './embedded';

export interface DatabaseOptions {
  /** postgres://… for a real server; undefined starts the embedded PostgreSQL (PGlite) in `dataDir`. */
  url?: string;
  dataDir: string;
  poolSize: number;
  /** Run pending migrations before answering (start-up, tests). `npm run migrate` does it on its own too. */
  migrate: boolean;
}

export interface DatabaseHandle {
  db: Database;
  embedded: boolean;
  close(): Promise<void>;
}

export async function connectDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const embedded = options.url ? undefined : await startEmbedded(options.dataDir);
  const dataSource = new DataSource({
    type: 'postgres',
    ...(embedded
      ? { host: embedded.socketDir, port: embedded.port, username: 'postgres', database: 'postgres', poolSize: 1 }
      : { url: options.url, poolSize: options.poolSize }),
    migrations,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    installExtensions: false,
    applicationName: 'kalos-pay',
  });
  try {
    await dataSource.initialize();
    if (options.migrate) await dataSource.runMigrations();
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
  return {
    db: new Database(dataSource),
    embedded: embedded !== undefined,
    async close() {
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
