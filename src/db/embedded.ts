import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tryLock, unlock } from 'fs-native-extensions';

/** Where a pg client finds the embedded database: a Unix socket directory, as for a local PostgreSQL. */
export interface EmbeddedDatabase {
  socketDir: string;
  port: number;
  stop(): Promise<void>;
}

/** pg connects to `<host>/.s.PGSQL.<port>` when its host is a directory. */
const SOCKET_PORT = 5432;
const socketName = (port: number) => `.s.PGSQL.${port}`;
/** sun_path holds 108 bytes on Linux (104 on macOS), the terminating NUL included. */
const MAX_SOCKET_PATH = 103;

/** A directory only we can enter: created 0700, or an existing one of ours tightened to 0700 (never a symlink). */
function privateDirectory(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || (typeof process.getuid === 'function' && stat.uid !== process.getuid())) {
    throw new Error(`${dir} must be a directory owned by this user, for the embedded database's socket`);
  }
  fs.chmodSync(dir, 0o700);
  return dir;
}

/**
 * The socket lives in DATA_DIR/run (mode 0700), so only this user can reach it; a DATA_DIR too long for a
 * socket path gets a fresh private directory under the system's temporary folder instead.
 */
function socketDirectory(dataDir: string): { dir: string; temporary: boolean } {
  const preferred = path.join(dataDir, 'run');
  if (path.join(preferred, socketName(SOCKET_PORT)).length <= MAX_SOCKET_PATH) return { dir: privateDirectory(preferred), temporary: false };
  return { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'kalos-pg-')), temporary: true };
}

const heldHere = new Set<string>();

/**
 * PGlite has no lock of its own: a second process opening the same files (a CLI while the gateway runs, a
 * second container on a shared volume) would see a stale copy and lose writes. The lock is an
 * open-file-description lock on `kalos.lock` (fcntl F_OFD_SETLK; flock on macOS) through a maintained
 * native package: the kernel holds it for exactly as long as this process keeps the file open, so a crash
 * or SIGKILL releases it and no stale lock is ever taken over by guessing. The holder's pid and host name
 * are written into the file only to make the refusal readable.
 */
export function lockDataDirectory(location: string): () => void {
  const lockFile = path.join(location, 'kalos.lock');
  if (heldHere.has(lockFile)) throw new Error(`The embedded database in ${location} is already open in this process.`);
  const fd = fs.openSync(lockFile, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  let locked: boolean;
  try {
    locked = tryLock(fd);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  if (!locked) {
    const holder = fs.readFileSync(fd, 'utf8');
    fs.closeSync(fd);
    let who = 'another process';
    try {
      const { pid, host } = JSON.parse(holder) as { pid?: unknown; host?: unknown };
      if (Number.isInteger(pid)) who = `process ${String(pid)}${typeof host === 'string' ? ` on ${host}` : ''}`;
    } catch {
      // written by a holder that had not finished writing: the lock itself is what counts
    }
    throw new Error(
      `The embedded database in ${location} is in use by ${who} (a running gateway?). Stop it first, or run against PostgreSQL with DATABASE_URL.`,
    );
  }
  fs.ftruncateSync(fd);
  fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname() }), 0);
  heldHere.add(lockFile);
  return () => {
    heldHere.delete(lockFile);
    // The file stays: removing it would let a process that opened the old file and one that creates a new
    // one both hold "the" lock. Emptying it under the lock clears the holder's name.
    fs.ftruncateSync(fd);
    unlock(fd);
    fs.closeSync(fd);
  };
}

/**
 * The embedded mode runs PGlite (PostgreSQL compiled to WebAssembly) behind its wire-protocol socket server,
 * so the gateway uses the very same `pg` driver, SQL and migrations as in production. The server has no
 * authentication, so it listens on a Unix socket in a directory only this user can enter, never on a TCP
 * port another local process could reach. One connection: transactions queue on the pool.
 */
export async function startEmbedded(dataDir: string): Promise<EmbeddedDatabase> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const location = path.join(dataDir, 'pgdata');
  fs.mkdirSync(location, { recursive: true, mode: 0o700 });
  const releaseLock = lockDataDirectory(location);
  let socket: { dir: string; temporary: boolean } | undefined;
  const removeSocket = () => {
    if (!socket) return;
    fs.rmSync(socket.temporary ? socket.dir : path.join(socket.dir, socketName(SOCKET_PORT)), { recursive: true, force: true });
  };
  try {
    socket = socketDirectory(dataDir);
    const socketPath = path.join(socket.dir, socketName(SOCKET_PORT));
    // Holding the lock, any socket file here is a leftover of a process that died.
    fs.rmSync(socketPath, { force: true });
    const pglite = await PGlite.create(location);
    const server = new PGLiteSocketServer({ db: pglite, path: socketPath });
    await server.start();
    fs.chmodSync(socketPath, 0o600);
    return {
      socketDir: socket.dir,
      port: SOCKET_PORT,
      async stop() {
        await server.stop();
        await pglite.close();
        removeSocket();
        releaseLock();
      },
    };
  } catch (error) {
    removeSocket();
    releaseLock();
    throw error;
  }
}
