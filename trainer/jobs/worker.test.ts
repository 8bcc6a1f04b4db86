import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { enqueueJob, getJob, type Job } from '../../db/index.ts';
import { openTestDb, type TestDb } from '../../test/helpers/db.ts';
import { runTrainerCommand } from './python-process.ts';
import { JobError, type JobHandler, startWorker } from './worker.ts';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until `done()`; the bound is only a guard against a hang (a loaded machine may be slow
 * to get there, and that is no failure), so it is far above what any run needs.
 */
async function until(done: () => boolean | Promise<boolean>, everyMs = 10): Promise<void> {
  const guard = Date.now() + 120_000;
  while (!(await done()) && Date.now() < guard) await sleep(everyMs);
}

// On PGlite by default and on the Postgres server when DATABASE_URL is set (CI runs both).
describe('job workers', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
  });
  after(() => t.dispose());

  it('three workers share a queue: every job runs exactly once, never two at once', async () => {
    const running = new Map<number, string>();
    const runs: number[] = [];
    let overlap = 0;
    const handler = (worker: string): JobHandler => ({
      async run(ctx) {
        if (running.has(ctx.job.id)) overlap++;
        running.set(ctx.job.id, worker);
        runs.push(ctx.job.id);
        await sleep(20);
        running.delete(ctx.job.id);
        const { completeJob } = await import('../../db/index.ts');
        assert.equal(await completeJob(ctx.db, ctx.lease), true);
      },
      async failed() {},
    });
    const jobs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => enqueueJob(t.db, { kind: 'share', payload: { i } })),
    );
    const workers = ['a', 'b', 'c'].map((w) =>
      startWorker({ db: t.db, handlers: { share: handler(w) }, logger, pollMs: 10, leaseMs: 5000 }),
    );
    await until(() => runs.length >= jobs.length, 25);
    await Promise.all(workers.map((w) => w.stop()));
    assert.equal(overlap, 0);
    assert.deepEqual(
      [...runs].sort((x, y) => x - y),
      jobs.map((j) => j.id).sort((x, y) => x - y),
    );
    for (const j of jobs) assert.equal((await getJob(t.db, j.id))?.status, 'done');
  });

  it('a bad-input failure ends the job at once and marks its work failed', async () => {
    const failedWith: string[] = [];
    const handler: JobHandler = {
      async run() {
        throw new JobError('DATASET_INVALID', 'no recordings');
      },
      async failed(_db, job: Job, code) {
        failedWith.push(`${job.id}:${code}`);
      },
    };
    const bad = await enqueueJob(t.db, { kind: 'fail', payload: { kind: 'bad' } });
    const w = startWorker({ db: t.db, handlers: { fail: handler }, logger, pollMs: 10 });
    await until(() => failedWith.length > 0);
    assert.deepEqual(failedWith, [`${bad.id}:DATASET_INVALID`]);
    const row = await getJob(t.db, bad.id);
    assert.equal(row?.status, 'failed');
    assert.equal(row?.attempts, 1, 'bad input is not retried');
    assert.match(row?.lastError ?? '', /DATASET_INVALID: no recordings/);
    await w.stop();
  });

  it('cancelling a running job stops its trainer process and ends the job as cancelled', async () => {
    const { requestCancel } = await import('../../db/index.ts');
    let exit: string | undefined;
    const failedWith: string[] = [];
    const handler: JobHandler = {
      async run(ctx) {
        // A real child process that would run for a minute: cancellation must stop it.
        const r = await runTrainerCommand('json.tool', ['/dev/zero'], { signal: ctx.signal });
        exit = String(r.signal ?? r.code);
      },
      async failed(_db, job: Job, code) {
        failedWith.push(`${job.id}:${code}`);
      },
    };
    const job = await enqueueJob(t.db, { kind: 'long', payload: {} });
    // Heartbeats every second: cancellation is seen within one, and a loaded machine does not lose the lease.
    const w = startWorker({ db: t.db, handlers: { long: handler }, logger, pollMs: 10, leaseMs: 3000 });
    await until(async () => (await getJob(t.db, job.id))?.status === 'running');
    assert.equal(await requestCancel(t.db, job.id), 'requested');
    await until(async () => (await getJob(t.db, job.id))?.status !== 'running', 20);
    assert.equal((await getJob(t.db, job.id))?.status, 'cancelled');
    assert.equal(exit, 'SIGTERM');
    assert.deepEqual(failedWith, [`${job.id}:CANCELLED`]);
    await w.stop();
  });
});

describe('a trainer command without its Python modules', () => {
  it('says which module is missing and how to set the environment up', async () => {
    const { missingPythonModule } = await import('./python-process.ts');
    const r = await runTrainerCommand('no_such_trainer_module_xyz', [], {});
    assert.notEqual(r.code, 0);
    assert.match(missingPythonModule(r.stderrTail) ?? '', /no_such_trainer_module_xyz.*npm run setup:python/);
    assert.match(
      missingPythonModule("ModuleNotFoundError: No module named 'faster_whisper'") ?? '',
      /'faster_whisper'/,
    );
    assert.equal(missingPythonModule('Traceback: ValueError: bad'), undefined);
  });
});
