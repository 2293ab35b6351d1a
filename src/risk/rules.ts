import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Environment } from '@marcbachmann/cel-js';
import { z } from 'zod';
import { celDeclarations, RiskFeatures, toCelContext } from './features';
import { RISK_DECISIONS } from './settings';
import type { RiskDecision } from './types';

/**
 * Rules are configuration: a JSON file of rules whose conditions are Common Expression Language over the
 * features (see docs/risk.md). CEL is not Turing-complete and has no access to the host: a condition can
 * only read the features it is given. Every condition is parsed and type-checked at load.
 */

export const RULE_MODES = ['enabled', 'disabled', 'shadow'] as const;
export type RuleMode = (typeof RULE_MODES)[number];

/** Reasons the engine itself gives; a rules file may reword them but not remove them. */
export const BUILT_IN_REASONS: Record<string, string> = {
  no_risk_signals: 'Nothing unusual was found about this payment.',
  risk_checks_unavailable: 'Our automatic fraud checks were temporarily unavailable, so this payment was handled with extra care.',
  guardian_consent_required: 'This account belongs to a minor, and a parent or guardian has not given consent for payments.',
  verification_failed: 'The extra identity check for this payment failed too many times.',
  verification_passed: 'The extra identity check for this payment succeeded.',
};

export const DEFAULT_HOW_TO_CONTEST =
  'This decision was made automatically. If you think it is wrong, contact support and quote the payment id: a person will review the decision and can reverse it.';

const PRECEDENCE: Record<RiskDecision, number> = { allow: 0, challenge: 1, review: 2, block: 3 };

export const mostSevere = (a: RiskDecision, b: RiskDecision): RiskDecision => (PRECEDENCE[a] >= PRECEDENCE[b] ? a : b);

const codeSchema = z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'must be snake_case, 2–64 characters');

const ruleSchema = z.object({
  id: codeSchema,
  description: z.string().max(500).optional(),
  reason: codeSchema,
  condition: z.string().min(1).max(2_000),
  action: z.enum(RISK_DECISIONS),
  score: z.number().int().min(0).max(100).default(0),
  mode: z.enum(RULE_MODES).default('enabled'),
});

const fileSchema = z.object({
  version: z.string().min(1).max(64),
  how_to_contest: z.string().min(1).max(1_000).default(DEFAULT_HOW_TO_CONTEST),
  reasons: z.record(codeSchema, z.string().min(1).max(300)).default({}),
  /** A summed score at or above a threshold raises the decision to at least that outcome. */
  score_outcomes: z.object({ challenge: z.number().int().min(1).max(100), review: z.number().int().min(1).max(100), block: z.number().int().min(1).max(100) }).partial().default({}),
  rules: z.array(z.unknown()).max(500),
});

export type RuleDefinition = z.infer<typeof ruleSchema>;

interface CompiledRule extends RuleDefinition {
  test: (context: Record<string, unknown>) => unknown;
}

export interface RuleSet {
  /** `<file version>#<content hash>`: two files that differ never share a version. */
  version: string;
  rules: CompiledRule[];
  reasons: Record<string, string>;
  scoreOutcomes: Partial<Record<Exclude<RiskDecision, 'allow'>, number>>;
  howToContest: string;
}

export interface RuleHit {
  rule: string;
  reason: string;
  action: RiskDecision;
  score: number;
  /** `shadow` hits are journaled but never change the decision or the score. */
  mode: 'enabled' | 'shadow';
  /** The condition failed at run time (e.g. a division by zero); such a hit never acts. */
  error?: true;
}

export interface RuleOutcome {
  decision: RiskDecision;
  score: number;
  hits: RuleHit[];
  /** Reason codes that shaped the outcome, in rule order. */
  reasonCodes: string[];
}

/** One line per problem, naming the rule, so a bad edit is fixed in one go. */
export class RulesFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`Invalid risk rules file ${file}:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'RulesFileError';
  }
}

const celEnvironment = (() => {
  const env = new Environment();
  for (const declaration of celDeclarations()) {
    if (declaration.type) env.registerVariable(declaration.name, declaration.type);
    else env.registerVariable({ name: declaration.name, schema: declaration.schema! });
  }
  return env;
})();

const firstLine = (message: string) => message.split('\n')[0].trim();

/**
 * Regular expressions run on strings the client sends (device model, OS version) with a backtracking engine:
 * `(a+)+$` on 30 characters takes seconds. Conditions use startsWith / endsWith / contains instead.
 */
const BACKTRACKING_REGEX = /\bmatches\s*\(/;

/** Compiles a condition, or says in one sentence why it cannot be used. */
function compileCondition(condition: string): { test?: CompiledRule['test']; problem?: string } {
  if (BACKTRACKING_REGEX.test(condition)) {
    return { problem: 'condition uses matches(), which can freeze the gateway on crafted input; use startsWith, endsWith or contains' };
  }
  let parsed: ReturnType<Environment['parse']>;
  try {
    parsed = celEnvironment.parse(condition);
  } catch (error) {
    return { problem: `condition has a syntax error: ${firstLine((error as Error).message)}` };
  }
  const checked = parsed.check();
  if (!checked.valid) {
    const message = firstLine(checked.error?.message ?? 'type error');
    const unknown = /^(?:Unknown variable|No such key): (\S+)/.exec(message);
    return { problem: unknown ? `condition uses an unknown feature "${unknown[1]}" (see docs/risk.md)` : `condition does not type-check: ${message}` };
  }
  if (checked.type !== 'bool') return { problem: `condition must be true or false, but it is of type ${checked.type}` };
  return { test: parsed };
}

function zodProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'value'} ${issue.message}`);
}

/** Thresholds must not reach users: a description with a digit in it is refused. */
function reasonProblems(reasons: Record<string, string>): string[] {
  return Object.entries(reasons)
    .filter(([, description]) => /\d/.test(description))
    .map(([code]) => `reason "${code}": the description must not contain numbers (users see it; thresholds stay private)`);
}

/** Validates and compiles rules file text. Throws RulesFileError listing every problem. */
export function parseRuleSet(text: string, file: string): RuleSet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RulesFileError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  const top = fileSchema.safeParse(json);
  if (!top.success) throw new RulesFileError(file, zodProblems(top.error));
  const reasons = { ...BUILT_IN_REASONS, ...top.data.reasons };
  const issues = reasonProblems(top.data.reasons);
  const rules: CompiledRule[] = [];
  const seen = new Set<string>();
  top.data.rules.forEach((raw, index) => {
    const label = `rule #${index + 1}${typeof (raw as { id?: unknown })?.id === 'string' ? ` "${(raw as { id: string }).id}"` : ''}`;
    const parsed = ruleSchema.safeParse(raw);
    if (!parsed.success) return issues.push(`${label}: ${zodProblems(parsed.error).join('; ')}`);
    const rule = parsed.data;
    const problems: string[] = [];
    if (seen.has(rule.id)) problems.push('the id is used by an earlier rule');
    seen.add(rule.id);
    if (!(rule.reason in reasons)) problems.push(`reason "${rule.reason}" is not defined under "reasons"`);
    const { test, problem } = compileCondition(rule.condition);
    if (problem) problems.push(problem);
    if (problems.length > 0) return issues.push(`${label}: ${problems.join('; ')}`);
    rules.push({ ...rule, test: test! });
  });
  if (issues.length > 0) throw new RulesFileError(file, issues);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { version: `${top.data.version}#${hash}`, rules, reasons, scoreOutcomes: top.data.score_outcomes, howToContest: top.data.how_to_contest };
}

export function loadRuleSet(file: string): RuleSet {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new RulesFileError(file, [`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parseRuleSet(text, file);
}

function runRule(rule: CompiledRule, context: Record<string, unknown>): RuleHit | undefined {
  const mode = rule.mode === 'shadow' ? 'shadow' : 'enabled';
  const hit = { rule: rule.id, reason: rule.reason, action: rule.action, score: rule.score, mode } as const;
  try {
    return rule.test(context) === true ? hit : undefined;
  } catch {
    return { ...hit, error: true };
  }
}

/** Runs every enabled and shadow rule. Block > review > challenge > allow; score = enabled weights, capped at 100. */
export function evaluateRules(ruleSet: RuleSet, features: RiskFeatures): RuleOutcome {
  const context = toCelContext(features);
  const hits = ruleSet.rules.filter((rule) => rule.mode !== 'disabled').flatMap((rule) => runRule(rule, context) ?? []);
  const acting = hits.filter((hit) => hit.mode === 'enabled' && !hit.error);
  const score = Math.min(100, acting.reduce((sum, hit) => sum + hit.score, 0));
  let decision: RiskDecision = acting.reduce<RiskDecision>((worst, hit) => mostSevere(worst, hit.action), 'allow');
  for (const [outcome, threshold] of Object.entries(ruleSet.scoreOutcomes) as Array<[RiskDecision, number]>) {
    if (score >= threshold) decision = mostSevere(decision, outcome);
  }
  const shaping = acting.filter((hit) => hit.action !== 'allow' || hit.score > 0);
  return { decision, score, hits, reasonCodes: [...new Set(shaping.map((hit) => hit.reason))] };
}
