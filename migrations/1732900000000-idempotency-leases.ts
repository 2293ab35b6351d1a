import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Checkouts no longer hold a database transaction while the provider is called. An idempotency key is
 * claimed and its payment created in one short transaction, the provider session is opened outside it,
 * and the answer is stored in a second one. Between the two the key is "in progress": no answer yet, and a
 * lease (`locked_until`) saying how long the request holding it may take before a retry takes over.
 */
export class IdempotencyLeases1732900000000 implements MigrationInterface {
  name = 'IdempotencyLeases1732900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query('ALTER TABLE idempotency_keys ALTER COLUMN response_status DROP NOT NULL');
    await db.query('ALTER TABLE idempotency_keys ALTER COLUMN response_body DROP NOT NULL');
    await db.query('ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz');
    await db.query(`
      ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_answer_whole
        CHECK ((response_status IS NULL) = (response_body IS NULL))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DELETE FROM idempotency_keys WHERE response_status IS NULL');
    await db.query('ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_answer_whole');
    await db.query('ALTER TABLE idempotency_keys DROP COLUMN locked_until');
    await db.query('ALTER TABLE idempotency_keys ALTER COLUMN response_body SET NOT NULL');
    await db.query('ALTER TABLE idempotency_keys ALTER COLUMN response_status SET NOT NULL');
  }
}
