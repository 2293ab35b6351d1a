import type { Logger } from 'pino';
import { DataSource, MigrationExecutor } from 'typeorm';
import { migrations } from '../../migrations';
import { Database } from './database';
import { startEmbedded } from './embedded';
import { DatabaseAvailability } from './errors';

export interface DatabaseOptions {
  /** postgres://… for a real server; undefined starts the embedded PostgreSQL (PGlite) in `dataDir`. */
  url?: string;
  dataDir: string;
  poolSize: number;
  /** Run pending migrations before answering (start-up, tests). `kalos migrate` does it on its own too. */
  migrate: boolean;
  /**
   * Longest wait for a connection, new or from the pool, before a call fails (and the request answers 503).
   * PostgreSQL only: the embedded database's one connection is queued on, not waited for.
   */
  connectTimeoutMs?: number;
  /** Where an outage of the database is logged (once when it starts, once when it ends). */
  logger?: Logger;
}

export interface DatabaseHandle {
  db: Database;
  embedded: boolean;
  close(): Promise<void>;
}

/** One key for every kalos-pay process on a database: whoever holds it is the only one migrating. */
const MIGRATION_LOCK = "hashtext('kalos-pay:migrations')";

/**
 * TypeORM has no migration lock: replicas starting together on an empty database would all create the
 * migrations table and run the first migration, and all but one crash on duplicate keys. Every migration
 * run (start-up and `kalos migrate` alike) therefore holds a session-level advisory lock, on the same
 * connection that runs the migrations; the others wait for it, then find nothing left to do. A process that
 * dies while holding it loses its session, and with it the lock.
 */
async function migrateUnderLock(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      const executor = new MigrationExecutor(dataSource, runner);
      executor.transaction = 'each';
      await executor.executePendingMigrations();
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  } finally {
    await runner.release();
  }
}

/**
 * The embedded database serves every connection from one backend session, so what a dropped connection
 * left there (its prepared statements, an open transaction, session locks) would greet the next one: a
 * named statement prepared again fails with 42P05 "already exists". A new connection therefore starts by
 * resetting the session, as a new backend of a real server would be fresh. Queued before any query of its
 * first user, since a pg client runs its queries in order.
 */
function resetSessionOnConnect(dataSource: DataSource): void {
  const pool = (dataSource.driver as unknown as { master: { on(event: 'connect', listener: (client: { query(text: string): Promise<unknown> }) => void): void } }).master;
  pool.on('connect', (client) => {
    client.query('ROLLBACK').catch(() => undefined);
    client.query('DISCARD ALL').catch(() => undefined);
  });
}

export async function connectDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const embedded = options.url ? undefined : await startEmbedded(options.dataDir);
  const dataSource = new DataSource({
    type: 'postgres',
    ...(embedded
      ? { host: embedded.socketDir, port: embedded.port, username: 'postgres', database: 'postgres', poolSize: 1 }
      : { url: options.url, poolSize: options.poolSize, connectTimeoutMS: options.connectTimeoutMs }),
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
    if (embedded) resetSessionOnConnect(dataSource);
    if (options.migrate) await migrateUnderLock(dataSource);
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
  return {
    db: new Database(dataSource, new DatabaseAvailability(options.logger)),
    embedded: embedded !== undefined,
    async close() {
      await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
