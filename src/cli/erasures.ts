import { parseArgs } from 'node:util';
import type { Gateway } from '../app/context';
import { erasureDepsOf, processPendingErasures } from '../rights/erasure';

export const ERASURES_USAGE = 'usage: kalos erasures process [--limit N]   finish pending erasures whose disputes and refunds have closed';

/**
 * Erasures that waited for an open dispute or a refund in flight complete once those close. Until the job
 * engine schedules it, run this from cron; several hosts at once are safe (each request is row-locked).
 */
export async function runErasuresCommand(args: string[], gateway: Gateway): Promise<string> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { limit: { type: 'string' } } });
  if (positionals.length !== 1 || positionals[0] !== 'process') throw new Error(ERASURES_USAGE);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit takes a whole number of requests, at least 1');
  const completed = await processPendingErasures(erasureDepsOf(gateway), limit);
  return `erasures: ${completed} completed`;
}
