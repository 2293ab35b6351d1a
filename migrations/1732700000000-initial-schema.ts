import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The minimal transaction record: amount, currency, time, item and status stay readable for accounting;
 * everything that identifies a person (user id, device, IP, location) is stored only as ciphertext under a
 * per-user data key, and found again only through keyed blind indexes (`*_hash`).
 */
export class InitialSchema1732700000000 implements MigrationInterface {
  name = 'InitialSchema1732700000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE subject_keys (
        id            text PRIMARY KEY,
        subject_hash  text NOT NULL UNIQUE,
        master_key_id text NOT NULL,
        wrapped_key   text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now()
      )`);

    await db.query(`
      CREATE TABLE payments (
        id              text PRIMARY KEY,
        user_hash       text NOT NULL,
        user_id_enc     text NOT NULL,
        device_hash     text NOT NULL,
        device_enc      text NOT NULL,
        ip_enc          text,
        location_enc    text,
        sku             text NOT NULL,
        item_name       text NOT NULL,
        quantity        integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        amount          bigint NOT NULL CHECK (amount >= 0),
        currency        char(3) NOT NULL,
        provider        text NOT NULL,
        provider_ref    text,
        capture_method  text NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
        status          text NOT NULL CHECK (status IN ('requires_verification', 'requires_payment', 'processing',
                          'held_for_review', 'succeeded', 'failed', 'canceled', 'blocked', 'partially_refunded',
                          'refunded', 'disputed')),
        risk_decision   text NOT NULL CHECK (risk_decision IN ('allow', 'challenge', 'review', 'block')),
        risk_score      integer NOT NULL CHECK (risk_score BETWEEN 0 AND 100),
        refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
        next_action     jsonb,
        review_reason   text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE UNIQUE INDEX payments_provider_ref_key ON payments (provider, provider_ref) WHERE provider_ref IS NOT NULL`);
    await db.query(`CREATE INDEX payments_user_recent_idx ON payments (user_hash, created_at DESC, id DESC)`);
    await db.query(`CREATE INDEX payments_status_age_idx ON payments (status, updated_at)`);

    await db.query(`
      CREATE TABLE payment_status_history (
        id          bigserial PRIMARY KEY,
        payment_id  text NOT NULL REFERENCES payments (id),
        from_status text,
        to_status   text NOT NULL,
        source      text NOT NULL,
        at          timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await db.query(`CREATE INDEX payment_status_history_payment_idx ON payment_status_history (payment_id, id)`);
    // History is evidence: the database itself refuses to rewrite it.
    await db.query(`
      CREATE FUNCTION refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'payment_status_history is append-only';
      END $$`);
    await db.query(`
      CREATE TRIGGER payment_status_history_append_only
        BEFORE UPDATE OR DELETE ON payment_status_history
        FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite()`);

    await db.query(`
      CREATE TABLE idempotency_keys (
        user_hash       text NOT NULL,
        key_hash        text NOT NULL,
        request_hash    text NOT NULL,
        response_status integer NOT NULL,
        response_body   text NOT NULL,
        payment_id      text REFERENCES payments (id),
        created_at      timestamptz NOT NULL DEFAULT now(),
        expires_at      timestamptz NOT NULL,
        PRIMARY KEY (user_hash, key_hash)
      )`);
    await db.query(`CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at)`);

    await db.query(`
      CREATE TABLE webhook_events (
        provider    text NOT NULL,
        event_id    text NOT NULL,
        kind        text NOT NULL,
        payment_id  text REFERENCES payments (id),
        outcome     text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, event_id)
      )`);

    await db.query(`
      CREATE TABLE refunds (
        id                 text PRIMARY KEY,
        payment_id         text NOT NULL REFERENCES payments (id),
        amount             bigint NOT NULL CHECK (amount > 0),
        currency           char(3) NOT NULL,
        status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        reason             text NOT NULL,
        provider_refund_id text,
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['refunds', 'webhook_events', 'idempotency_keys', 'payment_status_history', 'payments', 'subject_keys']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await db.query(`DROP FUNCTION IF EXISTS refuse_history_rewrite()`);
  }
}
