import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Staff operations: the audit trail, claims that keep two staff from acting on one payment at once, staff
 * Idempotency-Keys, and an expiry on blocklist entries.
 *
 * The audit trail is evidence (PCI DSS 10.2, 10.3): the database refuses UPDATE and TRUNCATE outright and
 * DELETE except for the pruning path, which must announce itself (`kalos.audit_prune`) and may only remove
 * rows older than the minimum retention. Each row carries a keyed hash over its content and the previous
 * row's hash; `audit_chain_head` is the single row every append locks, so appends from several instances
 * form one chain, and it keeps the anchor (the last pruned row's seq and hash) the remaining chain starts from.
 */
export class StaffOps1733500000000 implements MigrationInterface {
  name = 'StaffOps1733500000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE audit_log (
        seq        bigint PRIMARY KEY,
        at         timestamptz NOT NULL,
        actor      text NOT NULL,
        role       text NOT NULL,
        action     text NOT NULL,
        resource   text NOT NULL,
        outcome    text NOT NULL,
        request_id text NOT NULL,
        ip_hash    text NOT NULL,
        detail     jsonb NOT NULL,
        prev_hash  text NOT NULL,
        hash       text NOT NULL
      )`);
    await db.query(`CREATE INDEX audit_log_at_idx ON audit_log (at)`);
    await db.query(`CREATE INDEX audit_log_resource_idx ON audit_log (resource, seq)`);
    await db.query(`
      CREATE TABLE audit_chain_head (
        id          boolean PRIMARY KEY DEFAULT true CHECK (id),
        seq         bigint NOT NULL,
        hash        text NOT NULL,
        anchor_seq  bigint NOT NULL,
        anchor_hash text NOT NULL
      )`);
    await db.query(`INSERT INTO audit_chain_head (seq, hash, anchor_seq, anchor_hash) VALUES (0, 'genesis', 0, 'genesis')`);
    await db.query(`
      CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND current_setting('kalos.audit_prune', true) = 'on'
           AND OLD.at < now() - interval '12 months' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
      END $$`);
    await db.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_guard()`);
    await db.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard()`);

    await db.query(`
      CREATE TABLE staff_payment_claims (
        payment_id text PRIMARY KEY REFERENCES payments (id),
        staff_id   text NOT NULL,
        action     text NOT NULL,
        claim      text NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await db.query(`
      CREATE TABLE staff_idempotency_keys (
        staff_id        text NOT NULL,
        key_hash        text NOT NULL,
        request_hash    text NOT NULL,
        response_status integer,
        response_body   text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (staff_id, key_hash)
      )`);

    await db.query(`ALTER TABLE risk_blocklist ADD COLUMN expires_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE risk_blocklist DROP COLUMN expires_at`);
    await db.query(`DROP TABLE staff_idempotency_keys`);
    await db.query(`DROP TABLE staff_payment_claims`);
    await db.query(`DROP TABLE audit_chain_head`);
    await db.query(`DROP TABLE audit_log`);
    await db.query(`DROP FUNCTION audit_log_guard()`);
  }
}
