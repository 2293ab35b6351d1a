import type { Database } from '../db/database';
import { pruneAuditTrail, verifyAuditChain } from '../audit/trail';

export const AUDIT_USAGE = [
  'usage: kalos audit verify   check the staff audit trail\'s hash chain; names every changed, deleted or reordered row',
  '       kalos audit prune    delete whole months older than STAFF_AUDIT_RETENTION_MONTHS (≥ 12), keeping the chain anchor',
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
