import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * User data rights. Consents are an append-only history per subject (the latest row per purpose is in
 * force); rights requests (export, erasure) record who asked, when, and which step-up token proved it was
 * them, so one token serves one request.
 *
 * Erasure rewrites rows the database otherwise refuses to touch (the risk journal, spent step-up tokens):
 * it declares itself with `SET LOCAL kalos.maintenance = 'erasure'`, which the append-only triggers of
 * migration 1733600000000 let through for the operations each table allows.
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
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE IF EXISTS rights_requests');
    await db.query('DROP TABLE IF EXISTS consent_events');
  }
}
