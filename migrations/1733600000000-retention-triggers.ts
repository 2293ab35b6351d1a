import { MigrationInterface, QueryRunner } from 'typeorm';

/** Evidence tables and what retention may do to their rows; anything else stays refused, retention or not. */
const TABLES: Array<{ table: string; allowed: string[]; before: string }> = [
  { table: 'payment_status_history', allowed: ['delete'], before: 'refuse_history_rewrite' },
  { table: 'risk_decisions', allowed: ['delete', 'update'], before: 'refuse_risk_rewrite' },
  { table: 'risk_step_up_attempts', allowed: ['delete'], before: 'refuse_risk_rewrite' },
  { table: 'risk_step_up_tokens', allowed: ['delete'], before: 'refuse_risk_rewrite' },
];

/**
 * The append-only tables grew without bound: the retention sweep (src/retention) must be able to delete
 * old rows, and blank the features of old risk decisions, while every other writer is still refused. The
 * triggers now let an operation through only when the transaction declared itself as maintenance
 * (`SET LOCAL kalos.maintenance` = 'retention' by the sweep, per batch, or 'erasure' by a user's erasure)
 * and the operation is one the table allows (trigger arguments). A
 * session setting rather than a database role: roles are cluster-wide (they would collide between
 * databases on one server, and the embedded database has one user), and the guard is against the
 * application rewriting evidence by mistake — an operator with SQL access can drop a trigger either way.
 */
export class RetentionTriggers1733600000000 implements MigrationInterface {
  name = 'RetentionTriggers1733600000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION refuse_rewrite_outside_maintenance() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF current_setting('kalos.maintenance', true) IN ('retention', 'erasure') AND lower(TG_OP) = ANY (TG_ARGV) THEN
          RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$`);
    for (const { table, allowed } of TABLES) {
      await db.query(`DROP TRIGGER ${table}_append_only ON ${table}`);
      await db.query(`
        CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
          FOR EACH ROW EXECUTE FUNCTION refuse_rewrite_outside_maintenance(${allowed.map((op) => `'${op}'`).join(', ')})`);
    }
  }

  async down(db: QueryRunner): Promise<void> {
    for (const { table, before } of TABLES) {
      await db.query(`DROP TRIGGER ${table}_append_only ON ${table}`);
      await db.query(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${before}()`);
    }
    await db.query('DROP FUNCTION refuse_rewrite_outside_maintenance()');
  }
}
