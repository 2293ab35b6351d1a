import fs from 'node:fs';
import path from 'node:path';
import type { Sql } from '../../src/db/database';

/** Where an identifier was found: `table:<name>`, `file:<path>` or `log:<line number>`. */
export type Sighting = string;

/**
 * Every row of every table in the public schema, read as text (a row's text form holds all its columns:
 * text, jsonb, arrays, bytea as hex), plus bytea columns decoded, searched for each identifier.
 */
async function tableSightings(sql: Sql, needles: string[]): Promise<Sighting[]> {
  const tables = await sql.many<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const byteaColumns = await sql.many<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea'`,
  );
  const found: Sighting[] = [];
  for (const needle of needles) {
    for (const { table_name: table } of tables) {
      const hit = await sql.one(`SELECT 1 AS hit FROM "${table}" AS r WHERE strpos(r::text, $1) > 0 LIMIT 1`, [needle]);
      if (hit) found.push(`table:${table} has ${needle}`);
    }
    for (const { table_name: table, column_name: column } of byteaColumns) {
      const hit = await sql.one(`SELECT 1 AS hit FROM "${table}" WHERE position(convert_to($1, 'UTF8') in "${column}") > 0 LIMIT 1`, [needle]);
      if (hit) found.push(`table:${table}.${column} has ${needle}`);
    }
  }
  return found;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full);
    return entry.isFile() ? [full] : [];
  });
}

/** Raw bytes of every file under the data directory (for the embedded database, its pages and WAL too). */
function fileSightings(dataDir: string, needles: string[]): Sighting[] {
  return filesUnder(dataDir).flatMap((file) => {
    const bytes = fs.readFileSync(file);
    return needles.filter((needle) => bytes.includes(needle)).map((needle) => `file:${path.relative(dataDir, file)} has ${needle}`);
  });
}

function logSightings(lines: string[], needles: string[]): Sighting[] {
  return lines.flatMap((line, index) => needles.filter((needle) => line.includes(needle)).map((needle) => `log:${index + 1} has ${needle}`));
}

/**
 * Looks for identifiers in readable form everywhere the gateway keeps things: the database, the data
 * directory and the captured log lines. An empty answer is what erasure promises.
 */
export async function findIdentifiers(where: { sql: Sql; dataDir: string; logs: string[] }, needles: string[]): Promise<Sighting[]> {
  return [...(await tableSightings(where.sql, needles)), ...fileSightings(where.dataDir, needles), ...logSightings(where.logs, needles)];
}
