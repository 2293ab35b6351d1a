import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Money truth from facts: every provider observation, our own commands and staff decisions are kept as
 * facts (once each, by key), and a payment's status and totals are derived from the whole set of them
 * (src/payments/lifecycle.ts). The columns on `payments` are the persisted result of that function.
 *
 * Payments that exist already get the facts their current state stands for, so that deriving their state
 * again gives what they show today.
 */
export class PaymentFacts1733200000000 implements MigrationInterface {
  name = 'PaymentFacts1733200000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE payment_facts (
        id                    bigserial PRIMARY KEY,
        payment_id            text NOT NULL REFERENCES payments (id),
        fact_key              text NOT NULL,
        kind                  text NOT NULL CHECK (kind IN ('pending', 'processing', 'authorized', 'paid', 'failed', 'canceled',
                                'expired', 'verified', 'verification_failed', 'approved', 'rejected', 'refund_requested',
                                'refund_pending', 'refund_succeeded', 'refund_failed', 'refund_refused', 'dispute_opened',
                                'dispute_won', 'dispute_lost')),
        amount                bigint CHECK (amount >= 0),
        currency              char(3),
        session_ref           text,
        refund_id             text,
        provider_refund_id    text,
        reported_refund_total bigint CHECK (reported_refund_total >= 0),
        dispute_id            text,
        occurred_at           timestamptz NOT NULL,
        recorded_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((amount IS NULL) = (currency IS NULL)),
        UNIQUE (payment_id, fact_key)
      )`);
    // Facts are evidence, like the status history: never rewritten.
    await db.query(`
      CREATE FUNCTION refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$`);
    await db.query(`
      CREATE TRIGGER payment_facts_append_only
        BEFORE UPDATE OR DELETE ON payment_facts
        FOR EACH ROW EXECUTE FUNCTION refuse_rewrite()`);

    await db.query(`
      ALTER TABLE payments
        ADD COLUMN captured_amount   bigint NOT NULL DEFAULT 0 CHECK (captured_amount >= 0),
        ADD COLUMN authorised_amount bigint NOT NULL DEFAULT 0 CHECK (authorised_amount >= 0),
        ADD COLUMN open_dispute      boolean NOT NULL DEFAULT false,
        ADD COLUMN session_close_outstanding boolean NOT NULL DEFAULT false,
        ADD COLUMN last_checked_at   timestamptz`);
    // Reconcile walks the payments it must ask about, least recently asked first.
    await db.query(`CREATE INDEX payments_reconcile_idx ON payments (last_checked_at NULLS FIRST, created_at DESC)
      WHERE status IN ('requires_payment', 'processing', 'failed') OR session_close_outstanding`);
    await backfill(db);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX IF EXISTS payments_reconcile_idx');
    await db.query(`ALTER TABLE payments DROP COLUMN captured_amount, DROP COLUMN authorised_amount, DROP COLUMN open_dispute,
      DROP COLUMN session_close_outstanding, DROP COLUMN last_checked_at`);
    await db.query('DROP TABLE IF EXISTS payment_facts');
    await db.query('DROP FUNCTION IF EXISTS refuse_rewrite()');
  }
}

/** The facts each existing payment's state stands for (one `migration:` fact per kind). */
async function backfill(db: QueryRunner): Promise<void> {
  const fact = (kind: string, where: string, money = false) =>
    db.query(`
      INSERT INTO payment_facts (payment_id, fact_key, kind, amount, currency, session_ref, occurred_at)
      SELECT id, 'migration:${kind}', '${kind}', ${money ? 'amount, currency, provider_ref' : 'NULL, NULL, NULL'}, updated_at
        FROM payments WHERE ${where}`);
  await fact('paid', `status IN ('succeeded', 'partially_refunded', 'refunded', 'disputed')
    OR (status = 'held_for_review' AND capture_method = 'automatic')`, true);
  await fact('authorized', `status = 'held_for_review' AND capture_method = 'manual'`, true);
  await fact('dispute_opened', `status = 'disputed'`);
  await fact('expired', `status = 'canceled' OR review_reason = 'paid_after_cancel'`);
  await fact('failed', `status = 'failed'`);
  await fact('processing', `status = 'processing'`);
  await fact('verification_failed', `status = 'blocked' AND risk_decision <> 'block'`);
  await fact('verified', `risk_decision = 'challenge' AND status NOT IN ('requires_verification', 'blocked')`);
  await fact('approved', `id IN (SELECT payment_id FROM payment_status_history WHERE source = 'review:approved')`);
  await fact('rejected', `id IN (SELECT payment_id FROM payment_status_history WHERE source = 'review:rejected')`);
  await db.query(`
    INSERT INTO payment_facts (payment_id, fact_key, kind, amount, currency, refund_id, provider_refund_id, occurred_at)
    SELECT payment_id, 'migration:refund:' || id || ':' || k.kind, k.kind, amount, currency, id, provider_refund_id, updated_at
      FROM refunds
      CROSS JOIN LATERAL (VALUES ('refund_requested'), ('refund_' || CASE status WHEN 'failed' THEN 'refused' ELSE status END)) AS k (kind)`);
  await db.query(`UPDATE payments SET captured_amount = amount
    WHERE status IN ('succeeded', 'partially_refunded', 'refunded', 'disputed') OR (status = 'held_for_review' AND capture_method = 'automatic')`);
  await db.query(`UPDATE payments SET authorised_amount = amount WHERE status = 'held_for_review' AND capture_method = 'manual'`);
  await db.query(`UPDATE payments SET open_dispute = true WHERE status = 'disputed'`);
}
