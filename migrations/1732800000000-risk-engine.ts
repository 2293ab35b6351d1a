import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Risk engine tables. The decision journal and the step-up attempts are evidence for explaining and
 * contesting automated decisions: the database refuses to rewrite them. They hold keyed hashes only.
 */
export class RiskEngine1732800000000 implements MigrationInterface {
  name = 'RiskEngine1732800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE risk_blocklist (
        id         bigserial PRIMARY KEY,
        kind       text NOT NULL CHECK (kind IN ('device', 'user', 'ip')),
        value_hash text,
        ip_range   cidr,
        note       text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((value_hash IS NULL) <> (ip_range IS NULL)),
        CHECK (ip_range IS NULL OR kind = 'ip')
      )`);
    await db.query(`CREATE UNIQUE INDEX risk_blocklist_hash_key ON risk_blocklist (kind, value_hash) WHERE value_hash IS NOT NULL`);
    await db.query(`CREATE UNIQUE INDEX risk_blocklist_range_key ON risk_blocklist (ip_range) WHERE ip_range IS NOT NULL`);
    // "Was this device ever used by this user?" is asked on every checkout.
    await db.query(`CREATE INDEX payments_user_device_idx ON payments (user_hash, device_hash)`);

    await db.query(`
      CREATE TABLE risk_decisions (
        id              bigserial PRIMARY KEY,
        payment_id      text NOT NULL REFERENCES payments (id),
        stage           text NOT NULL CHECK (stage IN ('checkout', 'step_up')),
        ruleset_version text NOT NULL,
        decision        text NOT NULL CHECK (decision IN ('allow', 'challenge', 'review', 'block')),
        score           integer NOT NULL CHECK (score BETWEEN 0 AND 100),
        fail_mode       boolean NOT NULL,
        features        jsonb NOT NULL,
        rule_hits       jsonb NOT NULL,
        explanation     jsonb NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`CREATE INDEX risk_decisions_payment_idx ON risk_decisions (payment_id, id)`);

    await db.query(`
      CREATE TABLE risk_step_up_attempts (
        id         bigserial PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments (id),
        passed     boolean NOT NULL,
        failure    text,
        at         timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`CREATE INDEX risk_step_up_attempts_payment_idx ON risk_step_up_attempts (payment_id, id)`);

    await db.query(`
      CREATE FUNCTION refuse_risk_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$`);
    for (const table of ['risk_decisions', 'risk_step_up_attempts']) {
      await db.query(`
        CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
          FOR EACH ROW EXECUTE FUNCTION refuse_risk_rewrite()`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['risk_step_up_attempts', 'risk_decisions', 'risk_blocklist']) await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.query(`DROP INDEX IF EXISTS payments_user_device_idx`);
    await db.query(`DROP FUNCTION IF EXISTS refuse_risk_rewrite()`);
  }
}
