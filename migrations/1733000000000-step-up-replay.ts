import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A step-up token verifies one payment, once. Each token that passed is recorded by a hash of its issuer
 * and `jti`; the primary key makes a second use (even a concurrent one, which waits for the first to commit)
 * find the row and be refused. A consumed token stays consumed: the table refuses updates and deletes.
 */
export class StepUpReplay1733000000000 implements MigrationInterface {
  name = 'StepUpReplay1733000000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE risk_step_up_tokens (
        token_hash text PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments (id),
        used_at    timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`
      CREATE TRIGGER risk_step_up_tokens_append_only BEFORE UPDATE OR DELETE ON risk_step_up_tokens
        FOR EACH ROW EXECUTE FUNCTION refuse_risk_rewrite()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE IF EXISTS risk_step_up_tokens');
  }
}
