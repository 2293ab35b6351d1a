import type { Sql } from '../db/database';
import {
  addToBlocklist,
  BLOCKLIST_KINDS,
  BlocklistKind,
  IdentifierHasher,
  listBlocklist,
  removeFromBlocklist,
  toBlocklistEntry,
} from '../risk/blocklist';

export const BLOCKLIST_USAGE = [
  'usage: kalos blocklist add|remove device|user|ip VALUE [NOTE]',
  '       kalos blocklist list [device|user|ip]',
].join('\n');

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
  if ((command !== 'add' && command !== 'remove') || !isKind(kind) || !value) throw new Error(BLOCKLIST_USAGE);
  const entry = toBlocklistEntry(kind, value, deps.hasher);
  const shown = 'range' in entry ? entry.range : `${kind} (stored as its keyed hash)`;
  if (command === 'add') return (await addToBlocklist(deps.db, entry, note.join(' ') || undefined)) ? `added ${shown}` : `already listed: ${shown}`;
  return (await removeFromBlocklist(deps.db, entry)) ? `removed ${shown}` : `not listed: ${shown}`;
}
