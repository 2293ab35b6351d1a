import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fences the idempotency lease: each request that claims or resumes a key writes its own lease id, and
 * only the current holder may store the answer or give the key up. A request whose lease lapsed (a very
 * slow provider) can no longer overwrite the answer of the request that took over.
 */
export class IdempotencyLeaseOwner1733100000000 implements MigrationInterface {
  name = 'IdempotencyLeaseOwner1733100000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE idempotency_keys ADD COLUMN lease_id text');
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE idempotency_keys DROP COLUMN lease_id');
  }
}
