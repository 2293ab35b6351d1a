import type { MigrationInterface, QueryRunner } from 'typeorm';

/** An index a migration adds: its name and what follows ON in CREATE INDEX. */
export interface IndexSpec {
  name: string;
  on: string;
}

/** A migration that only adds indexes (and drops them again on the way down). */
export function indexMigration(name: string, indexes: readonly IndexSpec[]): new () => MigrationInterface {
  return class implements MigrationInterface {
    name = name;

    async up(db: QueryRunner): Promise<void> {
      for (const index of indexes) await db.query(`CREATE INDEX ${index.name} ON ${index.on}`);
    }

    async down(db: QueryRunner): Promise<void> {
      for (const index of indexes) await db.query(`DROP INDEX IF EXISTS ${index.name}`);
    }
  };
}
