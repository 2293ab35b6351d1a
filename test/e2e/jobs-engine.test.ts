import type { Gateway } from '../../src/app/context';
import { JobDefinition, startJobs } from '../../src/jobs';
import { gatewayJobs } from '../../src/jobs/registry';
import { serverUrl } from '../support/databases';
import { startTestGateway, TestGateway } from '../support/gateway';

/** Polls `done` until it holds: the jobs run on pg-boss's own polling (one job per worker per poll), so a test waits for their effect. */
async function eventually(done: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Run {
  instance: string;
  n: number;
}

/** A test queue whose handler records which instance ran which job; job `fail` throws on its first attempt. */
function recordingJob(instance: string, runs: Run[], attempts: Map<number, number>): JobDefinition<{ n: number; fail?: boolean }> {
  return {
    name: 'test-record',
    queue: { retryLimit: 2, retryDelay: 0, retryBackoff: false },
    async run({ n, fail }) {
      const attempt = (attempts.get(n) ?? 0) + 1;
      attempts.set(n, attempt);
      if (fail && attempt === 1) throw new Error('first attempt fails on purpose');
      runs.push({ instance, n });
    },
  };
}

const enqueueAll = (gateway: Gateway, jobs: Array<{ n: number; fail?: boolean }>) =>
  gateway.db.transaction(async (tx) => {
    for (const job of jobs) await gateway.jobs.enqueue(tx, 'test-record', job);
  });

const jobCount = async (gateway: Gateway, where: string, queue = 'test-record') =>
  Number((await gateway.db.one<{ count: string }>(`SELECT count(*) AS count FROM pgboss.job WHERE name = $1 AND ${where}`, [queue]))!.count);

const metricLines = async (test: TestGateway) =>
  (await test.http.get('/metrics')).text.split('\n').filter((line) => line.startsWith('kalos_jobs_total{queue="test-record"'));

const onPostgres = serverUrl() ? describe : describe.skip;

onPostgres('the job engine with two instances on one PostgreSQL database', () => {
  let first: TestGateway;
  let second: TestGateway;
  let passive: TestGateway;
  const runs: Run[] = [];
  const attempts = new Map<number, number>();

  beforeAll(async () => {
    const env = { JOBS_RETENTION_CRON: '0 4 * * *', JOBS_RECONCILE_CRON: 'off', JOBS_ERASURES_CRON: 'off', JOBS_AUDIT_PRUNE_CRON: 'off', JOBS_POLL_SECONDS: '1' };
    first = await startTestGateway({ env });
    second = await startTestGateway({ env: { ...first.sharedEnv, ...env } });
    passive = await startTestGateway({ env: { ...first.sharedEnv, ...env, JOBS_ENABLED: 'false' } });
    // Both start at once, as replicas do: pg-boss's migrator decides which one installs its schema.
    await Promise.all([
      startJobs(first.gateway, [recordingJob('first', runs, attempts), ...gatewayJobs(first.gateway)]),
      startJobs(second.gateway, [recordingJob('second', runs, attempts), ...gatewayJobs(second.gateway)]),
      startJobs(passive.gateway, [recordingJob('passive', runs, attempts), ...gatewayJobs(passive.gateway)]),
    ]);
  });

  afterAll(async () => {
    await passive?.stop();
    await second?.stop();
    await first?.stop();
  });

  it('runs every job enqueued in a transaction exactly once, whichever instance takes it, and none on one with JOBS_ENABLED=false', async () => {
    const jobs = Array.from({ length: 12 }, (_, n) => ({ n, fail: n === 7 }));
    await enqueueAll(passive.gateway, jobs);

    await eventually(async () => (await jobCount(first.gateway, `state = 'completed'`)) === 12, 'all 12 jobs to complete', 40_000);
    expect(runs.map((run) => run.n).sort((a, b) => a - b)).toEqual(jobs.map((job) => job.n));
    expect(attempts.get(7)).toBe(2);
    expect(runs.filter((run) => run.instance === 'passive')).toEqual([]);
  }, 60_000);

  it('holds a deferred job until its time', async () => {
    await first.gateway.db.transaction((tx) => first.gateway.jobs.enqueue(tx, 'test-record', { n: 500 }, { startAfter: 3600 }));
    await enqueueAll(first.gateway, [{ n: 501 }]);

    await eventually(() => runs.some((run) => run.n === 501), 'the job enqueued after it to run');
    expect(runs.some((run) => run.n === 500)).toBe(false);
    expect(await jobCount(first.gateway, `data->>'n' = '500' AND state = 'created' AND start_after > now() + interval '59 minutes'`)).toBe(1);
  });

  it('never runs a job whose transaction rolled back', async () => {
    await expect(
      first.gateway.db.transaction(async (tx) => {
        await first.gateway.jobs.enqueue(tx, 'test-record', { n: 1000 });
        throw new Error('the change that needed the job failed');
      }),
    ).rejects.toThrow('the change that needed the job failed');

    expect(await jobCount(first.gateway, `data->>'n' = '1000'`)).toBe(0);
  });

  it('counts completed and failed jobs per queue in the metrics of the instance that ran them', async () => {
    const total = (lines: string[], outcome: string) =>
      lines.filter((line) => line.includes(`outcome="${outcome}"`)).reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    const lines = [...(await metricLines(first)), ...(await metricLines(second))];

    expect(total(lines, 'completed')).toBe(13);
    expect(total(lines, 'failed')).toBe(1);
  });

  it('keeps one schedule per job from the settings, however many instances registered it, and none for one set off', async () => {
    const schedules = await first.gateway.db.many('SELECT name, cron, timezone FROM pgboss.schedule ORDER BY name');

    expect(schedules).toEqual([{ name: 'retention', cron: '0 4 * * *', timezone: 'UTC' }]);
  });
});

describe('the job engine on the embedded database', () => {
  let test: TestGateway;
  const runs: Run[] = [];

  beforeAll(async () => {
    test = await startTestGateway({ embedded: true, env: { JOBS_POLL_SECONDS: '1' } });
    await startJobs(test.gateway, [recordingJob('embedded', runs, new Map()), ...gatewayJobs(test.gateway)]);
  });

  afterAll(async () => {
    await test?.stop();
  });

  it('runs the gateway\'s own reconcile and retention jobs', async () => {
    await test.gateway.db.transaction(async (tx) => {
      await test.gateway.jobs.enqueue(tx, 'reconcile', {});
      await test.gateway.jobs.enqueue(tx, 'retention', {});
    });

    await eventually(
      async () => (await jobCount(test.gateway, `state = 'completed'`, 'reconcile')) + (await jobCount(test.gateway, `state = 'completed'`, 'retention')) === 2,
      'reconcile and retention to complete',
    );
  });

  it('installs its schema, and runs a job enqueued in a transaction on the one connection', async () => {
    await enqueueAll(test.gateway, [{ n: 1 }, { n: 2 }]);

    await eventually(async () => (await jobCount(test.gateway, `state = 'completed'`)) === 2, 'both jobs to complete');
    expect(runs.map((run) => run.n).sort()).toEqual([1, 2]);
  });

  it('keeps serving requests while the workers poll', async () => {
    const health = await test.http.get('/readyz');

    expect(health.status).toBe(200);
  });
});
