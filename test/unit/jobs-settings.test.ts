import { loadConfig } from '../../src/config';
import { configErrorFor, settingsNamed } from './config-issues';

describe('job and retention settings', () => {
  test('by default every instance runs jobs: reconcile every five minutes, retention daily, waiting erasures every ten minutes, audit pruning monthly, with the documented retention periods', () => {
    const config = loadConfig({});

    expect(config.jobs).toEqual({ enabled: true, schedules: { reconcile: '*/5 * * * *', retention: '17 3 * * *', erasures: '*/10 * * * *', 'audit-prune': '41 4 1 * *' }, pollSeconds: 2 });
    expect(config.retention.days).toEqual({
      webhookEvents: 90,
      statusHistory: 540,
      riskFeatures: 90,
      riskDecisions: 400,
      stepUp: 30,
      unansweredIdempotency: 7,
      staffIdempotency: 1,
      paymentPersonal: 1095,
    });
  });

  test('a schedule set to off is removed, and JOBS_ENABLED=false keeps the instance from running jobs', () => {
    const config = loadConfig({ JOBS_RETENTION_CRON: 'off', JOBS_ENABLED: 'false' });

    expect(config.jobs.schedules.retention).toBeUndefined();
    expect(config.jobs.enabled).toBe(false);
  });

  test('a malformed schedule or retention period is refused at start-up, naming the setting', () => {
    expect(settingsNamed({ JOBS_RETENTION_CRON: 'every night', RETENTION_STEP_UP_DAYS: '0', RETENTION_BATCH_SIZE: 'many' })).toEqual([
      'JOBS_RETENTION_CRON',
      'RETENTION_STEP_UP_DAYS',
      'RETENTION_BATCH_SIZE',
    ]);
    expect(configErrorFor({ JOBS_RECONCILE_CRON: '* * *' }).message).toContain('JOBS_RECONCILE_CRON: must be a five-field cron expression (UTC) or off');
  });
});
