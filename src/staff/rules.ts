import type { Sql } from '../db/database';
import { loadRuleSet } from '../risk/rules';

interface HitCount {
  rule: string;
  mode: 'enabled' | 'shadow';
  hits: number;
}

/**
 * The rules in force (the engine's file and version) with how often each fired over the last `days`
 * days, counted from the decision journal: enabled hits changed decisions, shadow hits show what a rule
 * being tried out would have done.
 */
export async function rulesInForce(sql: Sql, settings: { rulesFile: string; enabled: boolean }, inForceVersion: string, days = 30) {
  const ruleSet = settings.enabled ? loadRuleSet(settings.rulesFile) : undefined;
  const counts = await sql.many<HitCount>(
    `SELECT hit->>'rule' AS rule, hit->>'mode' AS mode, count(*)::int AS hits
       FROM risk_decisions d, jsonb_array_elements(d.rule_hits) AS hit
      WHERE d.created_at > now() - make_interval(days => $1) AND NOT COALESCE((hit->>'error')::boolean, false)
      GROUP BY 1, 2`,
    [days],
  );
  const hitsOf = (rule: string, mode: HitCount['mode']) => counts.find((count) => count.rule === rule && count.mode === mode)?.hits ?? 0;
  return {
    version: inForceVersion,
    file_version: ruleSet?.version ?? null,
    window_days: days,
    rules: (ruleSet?.rules ?? []).map((rule) => ({
      id: rule.id,
      description: rule.description ?? null,
      reason: rule.reason,
      action: rule.action,
      score: rule.score,
      mode: rule.mode,
      hits: hitsOf(rule.id, 'enabled'),
      shadow_hits: hitsOf(rule.id, 'shadow'),
    })),
  };
}
