import type { Sql } from '../db/database';

/** What a user can consent to. Adding a purpose is one entry here; the API and the export follow. */
export const CONSENT_PURPOSES = ['personalised_recommendations', 'cross_border_transfer'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

export interface ConsentEvent {
  purpose: ConsentPurpose;
  granted: boolean;
  policyVersion: string;
  at: Date;
}

interface ConsentRow {
  purpose: ConsentPurpose;
  granted: boolean;
  policy_version: string;
  at: Date;
}

const toEvent = (row: ConsentRow): ConsentEvent => ({ purpose: row.purpose, granted: row.granted, policyVersion: row.policy_version, at: row.at });

/** Every consent given or withdrawn by the subject, oldest first. */
export async function consentHistory(sql: Sql, subjectHash: string): Promise<ConsentEvent[]> {
  const rows = await sql.many<ConsentRow>('SELECT purpose, granted, policy_version, at FROM consent_events WHERE subject_hash = $1 ORDER BY id', [
    subjectHash,
  ]);
  return rows.map(toEvent);
}

/**
 * Whether the purpose is consented to now. Read on every use rather than cached, so a withdrawal takes
 * effect for the very next request on every instance.
 */
export async function hasConsent(sql: Sql, subjectHash: string, purpose: ConsentPurpose): Promise<boolean> {
  const row = await sql.one<{ granted: boolean }>(
    'SELECT granted FROM consent_events WHERE subject_hash = $1 AND purpose = $2 ORDER BY id DESC LIMIT 1',
    [subjectHash, purpose],
  );
  return row?.granted === true;
}

/**
 * Records the choices that change something (a new answer, or the same answer to a newer policy), so the
 * history shows decisions rather than repeated saves. Locks the subject's history first: two saves at once
 * are recorded one after the other, each compared with what the other wrote.
 */
export async function recordConsents(tx: Sql, subjectHash: string, choices: Partial<Record<ConsentPurpose, boolean>>, policyVersion: string) {
  await tx.many('SELECT pg_advisory_xact_lock(hashtext($1))', [`consent:${subjectHash}`]);
  const current = latestByPurpose(await consentHistory(tx, subjectHash));
  for (const purpose of CONSENT_PURPOSES) {
    const granted = choices[purpose];
    if (granted === undefined) continue;
    const before = current.get(purpose);
    if (before && before.granted === granted && before.policyVersion === policyVersion) continue;
    await tx.many('INSERT INTO consent_events (subject_hash, purpose, granted, policy_version) VALUES ($1, $2, $3, $4)', [
      subjectHash, purpose, granted, policyVersion,
    ]);
  }
}

function latestByPurpose(history: ConsentEvent[]): Map<ConsentPurpose, ConsentEvent> {
  return new Map(history.map((event) => [event.purpose, event]));
}

/** The consents object of the API: every purpose, its current answer and its history. Never asked means not given. */
export function consentsView(history: ConsentEvent[], policyVersion: string) {
  const latest = latestByPurpose(history);
  return {
    object: 'consents' as const,
    policy_version: policyVersion,
    consents: CONSENT_PURPOSES.map((purpose) => {
      const current = latest.get(purpose);
      return {
        purpose,
        granted: current?.granted ?? false,
        policy_version: current?.policyVersion ?? null,
        updated_at: current?.at.toISOString() ?? null,
        history: history
          .filter((event) => event.purpose === purpose)
          .map((event) => ({ granted: event.granted, policy_version: event.policyVersion, at: event.at.toISOString() })),
      };
    }),
  };
}
