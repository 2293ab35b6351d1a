import { loadConfig } from '../config';
import { runWhenMain } from './entry';
import { resolveKeyMaterial } from '../config/key-material';
import { connectDatabase } from '../db/connect';
import type { Database } from '../db/database';
import { AUDIT_CHAIN_KEY_LABEL, pruneAuditTrail, verifyAuditChain } from '../audit/trail';
import { BlindIndex } from '../privacy/keyring';
import { auditChainKey } from '../staff/settings';

export const AUDIT_USAGE = [
  'usage: npm run audit -- verify   check the staff audit trail\'s hash chain; names every changed, deleted or reordered row',
  '       npm run audit -- prune    delete whole months older than STAFF_AUDIT_RETENTION_MONTHS (≥ 12), keeping the chain anchor',
].join('\n');

export class AuditChainBroken extends Error {}

/**
 * `verify` exits non-zero when the chain is broken, so a scheduled job can alert on it. It needs the
 * gateway's blind index key: the chain is keyed, so it cannot be recomputed (or checked) without it.
 */
export async function runAuditCommand(args: string[], deps: { db: Database; chainKey: Buffer; retentionMonths: number }): Promise<string> {
  const [command, ...rest] = args;
  if (rest.length > 0) throw new Error(AUDIT_USAGE);
  switch (command) {
    case 'verify': {
      const report = await verifyAuditChain(deps.db, deps.chainKey);
      const summary = `checked ${report.checked} rows from anchor ${report.anchorSeq}`;
      if (report.ok) return `audit trail intact: ${summary}`;
      throw new AuditChainBroken([`audit trail BROKEN (${summary}):`, ...report.problems.map((problem) => `  - ${problem}`)].join('\n'));
    }
    case 'prune': {
      const pruned = await pruneAuditTrail(deps.db, deps.retentionMonths);
      return `pruned ${pruned.deleted} rows older than ${deps.retentionMonths} months; the chain now starts after row ${pruned.anchorSeq}`;
    }
    default:
      throw new Error(AUDIT_USAGE);
  }
}

async function main() {
  const config = loadConfig();
  const keys = resolveKeyMaterial(config);
  const database = await connectDatabase({ url: config.database.url, dataDir: config.dataDir, poolSize: 1, migrate: true });
  try {
    const chainKey = auditChainKey(config.staff, new BlindIndex(keys.blindIndexKey), AUDIT_CHAIN_KEY_LABEL);
    console.log(await runAuditCommand(process.argv.slice(2), { db: database.db, chainKey, retentionMonths: config.staff.auditRetentionMonths }));
  } finally {
    await database.close();
  }
}

runWhenMain(module, main);
