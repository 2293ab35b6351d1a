import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * Tests run on real PostgreSQL when TEST_DATABASE_URL names a server database we may create databases
 * from (CI does), and on the embedded database otherwise. Each gateway gets a database of its own, cloned
 * from a template that global setup migrated once, so test files never see each other's rows. Names carry
 * the run's id, so two test runs on one server never touch each other's databases.
 */
export function serverUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

export function runPrefix(): string {
  const run = process.env.KALOS_TEST_RUN;
  if (!run) throw new Error('KALOS_TEST_RUN is unset: run tests through jest (global setup sets it)');
  return `kalos_t${run}`;
}

export const templateName = () => `${runPrefix()}_template`;

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database on the test server; undefined when tests run embedded. */
export async function createTestDatabase(): Promise<string | undefined> {
  const base = serverUrl();
  if (!base) return undefined;
  const name = `${runPrefix()}_${randomBytes(5).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${templateName()}`));
  return databaseUrl(base, name);
}

export async function dropTestDatabase(url: string | undefined): Promise<void> {
  if (!url) return;
  const name = new URL(url).pathname.slice(1);
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
