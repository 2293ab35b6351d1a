import type { Sql } from '../db/database';
import type { RiskDecision } from './types';
import type { RuleHit } from './rules';

export interface Reason {
  code: string;
  description: string;
}

/** What the user is told, fixed at decision time so it stays true to the rules that were in force. */
export interface StoredExplanation {
  reasons: Reason[];
  how_to_contest: string;
}

/** One append-only journal row. `features` holds hashed identifiers only. */
export interface JournalEntry {
  stage: 'checkout' | 'step_up';
  rulesetVersion: string;
  decision: RiskDecision;
  score: number;
  failMode: boolean;
  features: Record<string, unknown>;
  hits: RuleHit[];
  explanation: StoredExplanation;
}

export interface JournalRow extends JournalEntry {
  paymentId: string;
  createdAt: Date;
}

export interface DecisionExplanation {
  decision: RiskDecision;
  automated: true;
  reasons: Reason[];
  how_to_contest: string;
}

export const DECISION_COLUMNS = 'stage, ruleset_version, decision, score, fail_mode, features, rule_hits, explanation';

/** The values of DECISION_COLUMNS for one entry, in that order: shared by appendDecision and the checkout's single statement. */
export function decisionValues(entry: JournalEntry): unknown[] {
  return [
    entry.stage,
    entry.rulesetVersion,
    entry.decision,
    entry.score,
    entry.failMode,
    JSON.stringify(entry.features),
    JSON.stringify(entry.hits),
    JSON.stringify(entry.explanation),
  ];
}

export async function appendDecision(tx: Sql, paymentId: string, entry: JournalEntry): Promise<void> {
  await tx.many(`INSERT INTO risk_decisions (payment_id, ${DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
    paymentId,
    ...decisionValues(entry),
  ]);
}

interface DecisionRecord {
  payment_id: string;
  stage: JournalEntry['stage'];
  ruleset_version: string;
  decision: RiskDecision;
  score: number;
  fail_mode: boolean;
  features: Record<string, unknown>;
  rule_hits: RuleHit[];
  explanation: StoredExplanation;
  created_at: Date;
}

function toJournalRow(record: DecisionRecord): JournalRow {
  return {
    paymentId: record.payment_id,
    stage: record.stage,
    rulesetVersion: record.ruleset_version,
    decision: record.decision,
    score: record.score,
    failMode: record.fail_mode,
    features: record.features,
    hits: record.rule_hits,
    explanation: record.explanation,
    createdAt: record.created_at,
  };
}

/** The decision in force for a payment: the newest journal row (a step-up outcome supersedes the checkout's). */
export async function latestDecision(sql: Sql, paymentId: string): Promise<JournalRow | undefined> {
  const record = await sql.one<DecisionRecord>(
    `SELECT payment_id, stage, ruleset_version, decision, score, fail_mode, features, rule_hits, explanation, created_at
       FROM risk_decisions WHERE payment_id = $1 ORDER BY id DESC LIMIT 1`,
    [paymentId],
  );
  return record && toJournalRow(record);
}

/**
 * The user-facing explanation of an automated decision: reason categories in plain words, never rule ids,
 * features, scores or thresholds (they would teach an attacker where the limits are).
 */
export function explain(row: Pick<JournalRow, 'decision' | 'explanation'>): DecisionExplanation {
  return {
    decision: row.decision,
    automated: true,
    reasons: row.explanation.reasons.map(({ code, description }) => ({ code, description })),
    how_to_contest: row.explanation.how_to_contest,
  };
}
