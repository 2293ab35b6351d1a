import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRuleSet, parseRuleSet, RulesFileError } from '../../src/risk/rules';
import { DEFAULT_RULES_FILE } from '../../src/risk/settings';

const ruleFile = (rules: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ version: 't1', reasons: { odd: 'Something was odd.' }, rules, ...extra });

function issuesOf(text: string): string[] {
  try {
    parseRuleSet(text, 'rules.json');
  } catch (error) {
    expect(error).toBeInstanceOf(RulesFileError);
    return (error as RulesFileError).issues;
  }
  throw new Error('the rules file was accepted');
}

describe('rules file validation', () => {
  it('accepts the shipped file and versions it by content', () => {
    const text = fs.readFileSync(DEFAULT_RULES_FILE, 'utf8');
    const first = parseRuleSet(text, DEFAULT_RULES_FILE);
    expect(first.version).toMatch(/^2026-11-27\.1#[0-9a-f]{12}$/);
    expect(parseRuleSet(text.replace('"score": 40', '"score": 41'), 'x').version).not.toBe(first.version);
  });

  it('reports one clear line per bad rule, naming the rule', () => {
    const issues = issuesOf(
      ruleFile([
        { id: 'fine', reason: 'odd', condition: 'device.rooted', action: 'review' },
        { id: 'unknown_feature', reason: 'odd', condition: 'device.colour == "red"', action: 'review' },
        { id: 'unknown_group', reason: 'odd', condition: 'wallet.balance > 3', action: 'review' },
        { id: 'syntax', reason: 'odd', condition: 'amount >', action: 'block' },
        { id: 'not_boolean', reason: 'odd', condition: 'amount + 1', action: 'block' },
        { id: 'wrong_types', reason: 'odd', condition: 'currency > 3', action: 'block' },
        { id: 'bad_action', reason: 'odd', condition: 'device.rooted', action: 'ban' },
        { id: 'bad_mode', reason: 'odd', condition: 'device.rooted', action: 'review', mode: 'maybe' },
        { id: 'bad_score', reason: 'odd', condition: 'device.rooted', action: 'review', score: 250 },
        { id: 'no_reason', reason: 'mystery', condition: 'device.rooted', action: 'review' },
        { id: 'fine', reason: 'odd', condition: 'device.emulator', action: 'review' },
        { reason: 'odd', condition: 'device.rooted', action: 'review' },
      ]),
    );
    expect(issues).toHaveLength(11);
    expect(issues[0]).toMatch(/^rule #2 "unknown_feature": condition uses an unknown feature "colour"/);
    expect(issues[1]).toMatch(/^rule #3 "unknown_group": condition uses an unknown feature "wallet"/);
    expect(issues[2]).toMatch(/^rule #4 "syntax": condition has a syntax error/);
    expect(issues[3]).toMatch(/^rule #5 "not_boolean": condition must be true or false, but it is of type int/);
    expect(issues[4]).toMatch(/^rule #6 "wrong_types": condition does not type-check/);
    expect(issues[5]).toMatch(/^rule #7 "bad_action": action /);
    expect(issues[6]).toMatch(/^rule #8 "bad_mode": mode /);
    expect(issues[7]).toMatch(/^rule #9 "bad_score": score /);
    expect(issues[8]).toBe('rule #10 "no_reason": reason "mystery" is not defined under "reasons"');
    expect(issues[9]).toBe('rule #11 "fine": the id is used by an earlier rule');
    expect(issues[10]).toMatch(/^rule #12: id /);
  });

  it('refuses reason descriptions with numbers in them: users must not learn thresholds', () => {
    const issues = issuesOf(ruleFile([], { reasons: { too_many: 'More than 5 attempts in a minute.' } }));
    expect(issues).toEqual(['reason "too_many": the description must not contain numbers (users see it; thresholds stay private)']);
  });

  it('reports a file that is not JSON, or has no version, in one line', () => {
    expect(issuesOf('{ "version": "x", rules: [] }')[0]).toMatch(/^not valid JSON/);
    expect(issuesOf(JSON.stringify({ rules: [] }))).toEqual([expect.stringMatching(/^version /)]);
  });

  it('names the file in the error message, one indented line per issue', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'risk-rules-'));
    const file = path.join(dir, 'rules.json');
    fs.writeFileSync(file, ruleFile([{ id: 'xy', reason: 'odd', condition: 'nope', action: 'review' }]));
    try {
      loadRuleSet(file);
      throw new Error('accepted');
    } catch (error) {
      expect((error as Error).message).toBe(`Invalid risk rules file ${file}:\n  - rule #1 "xy": condition uses an unknown feature "nope" (see docs/risk.md)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('refuses matches(): a backtracking regular expression over client strings could freeze the gateway', () => {
  const issues = issuesOf(ruleFile([{ id: 'regex', reason: 'odd', condition: "device.model.matches('^(a+)+$')", action: 'review' }]));
  expect(issues).toEqual([expect.stringMatching(/^rule #1 "regex": condition uses matches\(\)/)]);
});
