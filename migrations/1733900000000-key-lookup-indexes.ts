import { MigrationInterface, QueryRunner } from 'typeorm';

const INDEXES = [
  // Start-up asks which master keys wrap stored data keys (src/privacy/vault.ts): with this index it skips
  // from one key id to the next instead of reading every subject's row.
  { name: 'subject_keys_master_key_idx', on: 'subject_keys (master_key_id)' },
  // The retention sweep deletes staff members' keys by age (src/retention/rules.ts).
  { name: 'staff_idempotency_keys_created_idx', on: 'staff_idempotency_keys (created_at)' },
];

export class KeyLookupIndexes1733900000000 implements MigrationInterface {
  name = 'KeyLookupIndexes1733900000000';

  async up(db: QueryRunner): Promise<void> {
    for (const { name, on } of INDEXES) await db.query(`CREATE INDEX ${name} ON ${on}`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const { name } of INDEXES) await db.query(`DROP INDEX IF EXISTS ${name}`);
  }
}
