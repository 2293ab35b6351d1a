import { randomBytes } from 'node:crypto';
import { connectDatabase } from '../../src/db/connect';
import { databaseUrl, serverUrl, templateName, withAdmin } from './databases';
import { createEmbeddedTemplate } from './embedded-template';

/** Migrates the template database once per run (PostgreSQL, or embedded); every test database is a copy of it. */
export default async function globalSetup(): Promise<void> {
  process.env.KALOS_TEST_RUN = randomBytes(4).toString('hex');
  // Embedded tests run in every mode (some force it), so their template is always made.
  await createEmbeddedTemplate(process.env.KALOS_TEST_RUN);
  const base = serverUrl();
  if (!base) return;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${templateName()}`));
  const template = await connectDatabase({ url: databaseUrl(base, templateName()), dataDir: '', poolSize: 1, migrate: true });
  await template.close();
}
