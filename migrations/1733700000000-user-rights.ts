import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * User data rights. Consents are an append-only history per subject (the latest row per purpose is in
 * force); rights requests (export, erasure) record who asked, when, and which step-up token proved it was
 * them, so one token serves one request.
 *
 * Erasure must rewrite rows the database otherwise refuses to touch (the risk journal and spent step-up
 * tokens): their trigger now lets a transaction through that declared itself as maintenance with
 * `SET LOCAL kalos.maintenance = 'erasure'` (or `'retention'`, the retention job's name). SET LOCAL lasts
 * for that transaction only, so no other writer inherits it.
 */
export class UserRights1733700000000 implements MigrationInterface {
  name = 'UserRights1733700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE consent_events (
        id             bigserial PRIMARY KEY,
        subject_hash   text NOT NULL,
        purpose        text NOT NULL,
        granted        boolean NOT NULL,
        policy_version text NOT NULL,
        at             timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`CREATE INDEX consent_events_subject_idx ON consent_events (subject_hash, purpose, id DESC)`);

    await db.query(`
      CREATE TABLE rights_requests (
        id            text PRIMARY KEY,
        kind          text NOT NULL CHECK (kind IN ('export', 'erasure')),
        subject_ref   text NOT NULL,
        subject_hash  text,
        token_hash    text NOT NULL UNIQUE,
        status        text NOT NULL CHECK (status IN ('pending', 'completed')),
        waiting_for   jsonb NOT NULL DEFAULT '[]',
        created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        completed_at  timestamptz
      )`);
    await db.query(`CREATE INDEX rights_requests_subject_idx ON rights_requests (subject_ref, created_at DESC)`);
    await db.query(`CREATE INDEX rights_requests_pending_idx ON rights_requests (created_at) WHERE status = 'pending'`);

    await db.query(`
      CREATE OR REPLACE FUNCTION refuse_risk_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('kalos.maintenance', true) IN ('erasure', 'retention') THEN
          RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE OR REPLACE FUNCTION refuse_risk_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$`);
    await db.query('DROP TABLE IF EXISTS rights_requests');
    await db.query('DROP TABLE IF EXISTS consent_events');
  }
}
