import { runPrefix, serverUrl, withAdmin } from './databases';
import { removeEmbeddedTemplate } from './embedded-template';

/** Drops whatever this run created, including databases of test files that crashed. */
export default async function globalTeardown(): Promise<void> {
  removeEmbeddedTemplate();
  if (!serverUrl()) return;
  await withAdmin(async (admin) => {
    const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${runPrefix()}_%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  });
}
