import { loadConfig } from '../config';
import { resolveKeyMaterial } from '../config/key-material';
import { connectDatabase } from '../db/connect';
import type { Sql } from '../db/database';
import { BlindIndex } from '../privacy/keyring';
import {
  addToBlocklist,
  BLOCKLIST_KINDS,
  BlocklistKind,
  IdentifierHasher,
  listBlocklist,
  removeFromBlocklist,
  toBlocklistEntry,
} from '../risk/blocklist';

const USAGE = 'usage: npm run blocklist -- add|remove device|user|ip VALUE [NOTE]  ·  npm run blocklist -- list [device|user|ip]';

const isKind = (value: string | undefined): value is BlocklistKind => BLOCKLIST_KINDS.includes(value as BlocklistKind);

/**
 * The blocklist commands, separate from process start-up so tests run them on a test database. Values are
 * hashed with the gateway's blind index key before they touch the database (IP ranges excepted), so `list`
 * shows hashes: a listed device or user can be recognised, not read back.
 */
export async function runBlocklistCommand(args: string[], deps: { db: Sql; hasher: IdentifierHasher }): Promise<string> {
  const [command, kind, value, ...note] = args;
  if (command === 'list' && (kind === undefined || isKind(kind))) {
    const rows = await listBlocklist(deps.db, kind);
    if (rows.length === 0) return 'the blocklist is empty';
    return rows.map((row) => [row.kind, row.hashed ? `hash:${row.value}` : row.value, row.created_at.toISOString(), row.note ?? ''].join('\t').trimEnd()).join('\n');
  }
  if ((command !== 'add' && command !== 'remove') || !isKind(kind) || !value) throw new Error(USAGE);
  const entry = toBlocklistEntry(kind, value, deps.hasher);
  const shown = 'range' in entry ? entry.range : `${kind} (stored as its keyed hash)`;
  if (command === 'add') return (await addToBlocklist(deps.db, entry, note.join(' ') || undefined)) ? `added ${shown}` : `already listed: ${shown}`;
  return (await removeFromBlocklist(deps.db, entry)) ? `removed ${shown}` : `not listed: ${shown}`;
}

async function main() {
  const config = loadConfig();
  const keys = resolveKeyMaterial(config);
  const database = await connectDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: 1, migrate: true });
  try {
    console.log(await runBlocklistCommand(process.argv.slice(2), { db: database.db, hasher: new BlindIndex(keys.blindIndexKey) }));
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
