import type { Sql } from '../db/database';
import type { Money } from '../shared/money';
import type { ProviderName } from '../providers/types';

/**
 * What the checkout hands the risk engine. Raw identifiers live here only in memory, for the length of one
 * decision; anything the engine stores or counts must use the keyed hashes.
 */
export interface RiskInput {
  paymentId: string;
  /** The same for every retry of one request (the checkout derives it from user and Idempotency-Key): counted once. */
  attemptId: string;
  userId: string;
  userHash: string;
  device: { id: string; hash: string; model: string; os: string; osVersion: string; emulator: boolean; rooted: boolean };
  ipAddress: string;
  location?: { lat: number; lon: number };
  claims: { minor: boolean; guardianConsent: boolean; country?: string };
  money: Money;
  sku: string;
  quantity: number;
  provider: ProviderName;
  now: Date;
}

export type RiskDecision = 'allow' | 'challenge' | 'review' | 'block';

export interface RiskAssessment {
  decision: RiskDecision;
  /** With `block`: which refusal the caller sees. `guardian_consent_required` answers 403 instead of 402. */
  blockCode?: 'payment_blocked' | 'guardian_consent_required';
  /** 0–100, higher is riskier. */
  score: number;
  /** The counters or the blocklist lookup were unreachable, so the configured fail mode (RISK_FAIL_MODE) shaped the decision. */
  failMode?: boolean;
  /** Opaque to the checkout: what the engine wants journaled with the payment (rule hits, features, ruleset version). */
  journal: unknown;
}

export interface RiskEngine {
  /**
   * Decides a checkout before any provider session exists. Never throws for an outage: it applies its fail mode.
   * Reads the database through `sql`, outside any transaction (the checkout stores its decision afterwards in
   * one statement), so a failed lookup costs nothing but the fail mode.
   */
  assess(input: RiskInput, sql: Sql): Promise<RiskAssessment>;
  /**
   * Told after a payment's status change is committed (e.g. to count failed payments per user).
   * Must not throw: the change is already durable.
   */
  paymentStatusChanged?(change: PaymentStatusChange): Promise<void>;
  /** Erasure: forgets every velocity counter kept for this user (their keyed hash). Throws when the store is unreachable. */
  forgetUser(userHash: string): Promise<void>;
}

export interface PaymentStatusChange {
  paymentId: string;
  userHash: string;
  deviceHash: string;
  status: string;
  at: Date;
}

export type RuleReloadResult = { reloaded: true; version: string } | { reloaded: false; version: string; issues: string[] };

/** What the process around the engine needs besides the checkout's calls (start-up, SIGHUP, shutdown). */
export interface RiskRuntime extends RiskEngine {
  /** Re-reads the rules file (SIGHUP). An invalid file changes nothing: the old rules stay in force. */
  reload(): RuleReloadResult;
  readonly rulesetVersion: string;
  /** Erasure: deletes every velocity counter of this user (keyed hash), in Redis or in process memory. */
  forgetUser(userHash: string): Promise<void>;
  close(): Promise<void>;
}
