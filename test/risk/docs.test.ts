import fs from 'node:fs';
import path from 'node:path';
import { listFeatures } from '../../src/risk/features';
import { loadRuleSet } from '../../src/risk/rules';
import { DEFAULT_RULES_FILE } from '../../src/risk/settings';

const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/risk.md'), 'utf8');

describe('docs/risk.md', () => {
  it.each(listFeatures().map(([name]) => [name]))('documents feature %s', (name) => {
    expect(docs).toContain(`\`${name}\``);
  });

  it('lists every shipped rule', () => {
    for (const rule of loadRuleSet(DEFAULT_RULES_FILE).rules) expect(docs).toContain(`\`${rule.id}\``);
  });
});
