import type { Database, Sql } from '../db/database';
import { Payment, PAYMENT_COLUMNS, PaymentRow, toPayment } from '../payments/payment';
import { orderDetailView } from '../payments/views';
import type { PersonalDataVault } from '../privacy/vault';
import { explain, StoredExplanation } from '../risk/journal';
import type { RiskDecision } from '../risk/types';
import { consentHistory, consentsView } from './consents';
import { ProvenIdentity, stepUpReused } from './identity';

export interface ExportDeps {
  db: Database;
  vault: PersonalDataVault;
  policyVersion: string;
  batchSize: number;
}

interface SealedRow extends PaymentRow {
  user_id_enc: string;
  device_enc: string;
  ip_enc: string | null;
  location_enc: string | null;
}

/** Spends the step-up token on this export, so the same proof cannot fetch everything twice. */
export async function recordExport(sql: Sql, proof: ProvenIdentity, id: string): Promise<void> {
  const created = await sql.one(
    `INSERT INTO rights_requests (id, kind, subject_ref, token_hash, status, completed_at) VALUES ($1, 'export', $2, $3, 'completed', clock_timestamp())
     ON CONFLICT (token_hash) DO NOTHING RETURNING id`,
    [id, proof.subjectRef, proof.tokenHash],
  );
  if (!created) throw stepUpReused();
}

async function decisions(sql: Sql, paymentId: string) {
  const rows = await sql.many<{ stage: 'checkout' | 'step_up'; decision: RiskDecision; explanation: StoredExplanation; created_at: Date }>(
    'SELECT stage, decision, explanation, created_at FROM risk_decisions WHERE payment_id = $1 ORDER BY id',
    [paymentId],
  );
  return rows.map((row) => ({ stage: row.stage, ...explain(row), at: row.created_at.toISOString() }));
}

/** What we hold about the person behind one payment, decrypted under their data key. */
async function personalFields(deps: ExportDeps, row: SealedRow) {
  const open = (column: string, sealed: string) => deps.vault.decrypt(deps.db, row.user_hash, `payments.${column}`, sealed);
  return {
    user_id: await open('user_id', row.user_id_enc),
    device: JSON.parse(await open('device', row.device_enc)) as Record<string, unknown>,
    ip_address: row.ip_enc ? await open('ip', row.ip_enc) : '',
    location: row.location_enc ? (JSON.parse(await open('location', row.location_enc)) as { lat: number; lon: number }) : null,
  };
}

async function exportedPayment(deps: ExportDeps, row: SealedRow) {
  const payment: Payment = toPayment(row);
  const [detail, personal, risk] = await Promise.all([orderDetailView(deps.db, payment), personalFields(deps, row), decisions(deps.db, payment.id)]);
  return { ...detail, personal, risk_decisions: risk };
}

/** One page of the subject's payments, newest first, after the cursor (compared inside SQL, like the orders list). */
function paymentPage(sql: Sql, userHash: string, after: string | undefined, limit: number) {
  return sql.many<SealedRow>(
    `SELECT ${PAYMENT_COLUMNS}, user_id_enc, device_enc, ip_enc, location_enc FROM payments
      WHERE user_hash = $1 AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM payments WHERE id = $2))
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [userHash, after ?? null, limit],
  );
}

/**
 * The export document (schema: PersonalDataExport), as chunks of JSON text. The opening part (consents,
 * requests) is read before the first chunk is handed out, so a failure there is still an ordinary error
 * answer; payments follow page by page, so memory stays flat however long the history is.
 */
export async function exportDocument(deps: ExportDeps, user: { id: string; hash: string; ref: string }): Promise<AsyncGenerator<string>> {
  const [history, requests] = await Promise.all([
    consentHistory(deps.db, user.hash),
    deps.db.many<{ id: string; kind: 'export' | 'erasure'; status: string; created_at: Date }>(
      'SELECT id, kind, status, created_at FROM rights_requests WHERE subject_ref = $1 ORDER BY created_at, id',
      [user.ref],
    ),
  ]);
  const opening = {
    object: 'personal_data_export',
    generated_at: new Date().toISOString(),
    user_id: user.id,
    consents: consentsView(history, deps.policyVersion),
    rights_requests: requests.map((request) => ({ ...request, created_at: request.created_at.toISOString() })),
  };
  async function* chunks() {
    yield `${JSON.stringify(opening).slice(0, -1)},"payments":[`;
    let after: string | undefined;
    let first = true;
    for (;;) {
      const page = await paymentPage(deps.db, user.hash, after, deps.batchSize);
      for (const row of page) {
        yield `${first ? '' : ','}${JSON.stringify(await exportedPayment(deps, row))}`;
        first = false;
      }
      if (page.length < deps.batchSize) break;
      after = page[page.length - 1].id;
    }
    yield ']}';
  }
  return chunks();
}
