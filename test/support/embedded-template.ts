import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDatabase } from '../../src/db/connect';

/**
 * Tests on the embedded database start from a copy of one data directory that global setup created and
 * migrated once per run: a fresh PGlite directory costs an initdb and every migration (about 30 s on a
 * loaded 2-core machine, more than jest's timeout), a copy about a second.
 */
const TEMPLATE_VARIABLE = 'KALOS_EMBEDDED_TEMPLATE';

export async function createEmbeddedTemplate(run: string): Promise<void> {
  const dataDir = path.join(os.tmpdir(), `kalos-embedded-template-${run}`);
  const database = await connectDatabase({ dataDir, poolSize: 1, migrate: true });
  await database.close();
  process.env[TEMPLATE_VARIABLE] = dataDir;
}

export function removeEmbeddedTemplate(): void {
  const dataDir = process.env[TEMPLATE_VARIABLE];
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

/** Gives `dataDir` a migrated embedded database of its own (the template's files, without its lock file). */
export function seedEmbeddedDatabase(dataDir: string): void {
  const template = process.env[TEMPLATE_VARIABLE];
  if (!template) return; // a file run outside jest's global setup migrates from scratch
  fs.cpSync(path.join(template, 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true, filter: (source) => path.basename(source) !== 'kalos.lock' });
}
