import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A per-payment version for optimistic writes of facts (src/payments/fact-journal.ts): every write of a
 * payment's facts or of the state derived from them adds one, in the same statement. A writer that read
 * the payment and its facts without a lock (the webhook path) then writes only `WHERE facts_version` is
 * still what it read, so a fact recorded meanwhile is never left out of the state it derives.
 *
 * `payments` carries no append-only trigger (only the evidence tables do, see 1733600000000), so the
 * writers need nothing more to update the column. Existing payments start at 0: only changes count.
 */
export class PaymentFactsVersion1733800000000 implements MigrationInterface {
  name = 'PaymentFactsVersion1733800000000';

  async up(db: QueryRunner): Promise<void> {
    // A constant default: no table rewrite, so the migration is instant on a large table.
    await db.query(`ALTER TABLE payments ADD COLUMN facts_version bigint NOT NULL DEFAULT 0`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE payments DROP COLUMN facts_version`);
  }
}
