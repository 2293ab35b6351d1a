import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { Database } from './database';

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

/**
 * The embedded mode runs PGlite (PostgreSQL compiled to WebAssembly) behind its wire-protocol socket on a
 * loopback port, so the gateway uses the very same `pg` driver, SQL and migrations as in production. One
 * connection: transactions queue on the pool instead of interleaving.
 */
async function startEmbedded(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const location = path.join(dataDir, 'pgdata');
  fs.mkdirSync(location, { recursive: true, mode: 0o700 });
  const releaseLock = lockDataDirectory(location);
  try {
    const pglite = await PGlite.create(location);
    const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0 });
    await server.start();
    return {
      url: `postgres://postgres@${server.getServerConn()}/postgres`,
      async stop() {
        await server.stop();
        await pglite.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

interface LockHolder {
  pid: number;
  host: string;
}

/** Whether the holder recorded in a lock file is a live process other than this one, on this machine. */
function heldByAnother(content: string): LockHolder | undefined {
  let holder: LockHolder;
  try {
    holder = JSON.parse(content) as LockHolder;
  } catch {
    return undefined; // empty or garbled: a crash between creating and writing the file
  }
  // Our own pid means a restart that reused it (a container's PID 1); another host's lock cannot be checked.
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || holder.pid === process.pid || holder.host !== os.hostname()) return undefined;
  try {
    process.kill(holder.pid, 0);
    return holder;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? holder : undefined;
  }
}

/**
 * PGlite has no lock of its own: a second process opening the same files (a CLI while the gateway runs)
 * would see a stale copy and can corrupt them. One process at a time holds `kalos.lock`; a lock whose
 * holder no longer runs is taken over. (Two processes taking over the same stale lock in the same instant
 * could both win; that needs a crash and two starts at once, on a mode meant for one laptop.)
 */
const heldHere = new Set<string>();

function lockDataDirectory(location: string): () => void {
  const lockFile = path.join(location, 'kalos.lock');
  if (heldHere.has(lockFile)) throw new Error(`The embedded database in ${location} is already open in this process.`);
  const me = JSON.stringify({ pid: process.pid, host: os.hostname() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, me, { flag: 'wx', mode: 0o600 });
      heldHere.add(lockFile);
      return () => {
        heldHere.delete(lockFile);
        fs.rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = heldByAnother(fs.readFileSync(lockFile, 'utf8'));
      if (holder) {
        throw new Error(
          `The embedded database in ${location} is in use by process ${holder.pid} (a running gateway?). ` +
            'Stop it first, or run against PostgreSQL with DATABASE_URL.',
        );
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`Could not lock the embedded database in ${location}`);
}

export async function connectDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const embedded = options.url ? undefined : await startEmbedded(options.dataDir);
  const dataSource = new DataSource({
    type: 'postgres',
    url: options.url ?? embedded!.url,
    poolSize: embedded ? 1 : options.poolSize,
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
