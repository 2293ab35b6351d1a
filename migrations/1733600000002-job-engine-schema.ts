import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The job engine's schema, created here, where migrations run one at a time under their lock. pg-boss
 * installs its tables into it at start-up (under its own advisory lock), but it creates the schema itself
 * with CREATE SCHEMA IF NOT EXISTS, which is not safe against a second replica doing the same at that
 * instant (a duplicate key on pg_namespace): replicas started together on an empty database failed.
 */
export class JobEngineSchema1733600000002 implements MigrationInterface {
  name = 'JobEngineSchema1733600000002';

  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE SCHEMA IF NOT EXISTS pgboss');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP SCHEMA IF EXISTS pgboss CASCADE');
  }
}
