import type { Gateway } from '../app/context';
import { pruneAuditTrail } from '../audit/trail';
import { sweepRetention } from '../retention/sweep';
import { erasureDepsOf, processPendingErasures } from '../rights/erasure';
import type { JobDefinition } from './engine';
import { reconcileOnce } from './reconcile';

/**
 * Every kind of job the gateway runs, bound to one gateway. Schedules come from settings by job name
 * (JOBS_<NAME>_CRON); a job enqueued per change (e.g. finishing an erasure) is added here with its handler.
 */
export function gatewayJobs(gateway: Gateway): JobDefinition[] {
  const { logger, config } = gateway;
  return [
    {
      name: 'reconcile',
      queue: { policy: 'stately', retryLimit: 0 },
      async run() {
        const lines = await reconcileOnce(gateway, { olderThanSeconds: config.reconcileMinAgeSeconds });
        logger.info({ job: 'reconcile', summary: lines }, 'reconcile pass done');
      },
    },
    {
      name: 'retention',
      queue: { policy: 'stately' },
      async run() {
        const outcomes = await sweepRetention(gateway.db, config.retention);
        logger.info({ job: 'retention', outcomes: outcomes.filter((outcome) => outcome.rows > 0) }, 'retention sweep done');
      },
    },
    {
      // Erasures that waited for a dispute or a refund to close; several instances at once are safe (row locks).
      name: 'erasures',
      queue: { policy: 'stately' },
      async run() {
        const completed = await processPendingErasures(erasureDepsOf(gateway));
        logger.info({ job: 'erasures', completed }, 'pending erasures pass done');
      },
    },
    {
      name: 'audit-prune',
      queue: { policy: 'stately' },
      async run() {
        const pruned = await pruneAuditTrail(gateway.db, config.staff.auditRetentionMonths);
        logger.info({ job: 'audit-prune', ...pruned }, 'audit trail pruned');
      },
    },
  ];
}
