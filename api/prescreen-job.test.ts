// The pre-screen as a job on the queue: queued, its progress on the job row (and so on the test's
// `preparation`), its worker lost mid-rendering and the job resumed by another worker from the
// stimuli already stored, and the test opened, with only the checkpoints that pass, when it ends.
// The renderings are planted espeak-ng audio (one checkpoint at half tempo); the scorer is real.
// And the worker slots: a pre-screen queued while a training run holds the only general worker
// runs at once on the short-job slot (and, without that slot, waits).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import {
  completeJob,
  enqueueJob,
  getJob,
  getListeningTest,
  latestPrescreenJob,
  listConditions,
  listStimuli,
  PRESCREEN_JOB,
  TRAINING_RUN_JOB,
} from '../db/index.ts';
import { memoryAudioStore, type RenderStimulus } from '../listening/index.ts';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { pollFor } from '../test/helpers/e2e.ts';
import { type JobHandler, startWorker, type Worker } from '../trainer/index.ts';
import { startWorkerSlots } from './jobs.ts';
import { type PrescreenJobPayload, prescreenJobHandler } from './prescreen.ts';
import { draftTest, plantedCheckpoints } from './prescreen-test-fixtures.ts';

// Whisper (CTranslate2) on one thread in the scorer's process (trainer/dataset/asr.py honours
// OMP_NUM_THREADS): where every core is busy, as in the suite, a second thread mostly waits for
// the first and spends CPU waiting. The verdicts do not depend on the thread count.
process.env.OMP_NUM_THREADS ??= '1';

describe('the pre-screen job', () => {
  let t: TestDb;
  let dir = '';
  const workers: Worker[] = [];
  const logger = pino({ level: 'silent' });
  let release: (err: Error) => void = () => {};
  before(async () => {
    t = await openTestDb();
    dir = mkdtempSync(join(tmpdir(), 'prescreen-job-'));
  });
  after(async () => {
    release(new Error('the test ended'));
    await Promise.all(workers.map((w) => w.stop()));
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Polls every 50 ms (the workers here poll every 20). */
  const waitFor = <T>(what: string, poll: () => Promise<T | undefined>, seconds: number) =>
    pollFor(what, poll, seconds, 50);

  test('queued, shows progress, resumed after its worker is lost, and opens the test with the passing checkpoints', async () => {
    const db = t.db;
    const fixture = await plantedCheckpoints(db, dir, 'june', ['clean', 'slow']);
    const {
      base,
      candidates: [good, slow],
    } = fixture;
    const audio = memoryAudioStore();
    const rendered: string[] = [];
    const planted: RenderStimulus = async (c, text) => {
      const bytes = fixture.rendering(c, text);
      rendered.push(`${c.id}/${text}`);
      return bytes;
    };
    const testId = await draftTest({ db, audio }, fixture);
    /** A worker of pre-screen jobs only, with a short lease, rendering with `renderStimulus`. */
    const prescreenWorker = (renderStimulus: RenderStimulus) => {
      const w = startWorker({
        db,
        handlers: { [PRESCREEN_JOB]: prescreenJobHandler({ audio, logger, renderStimulus }) },
        logger,
        pollMs: 20,
        leaseMs: 600,
      });
      workers.push(w);
      return w;
    };
    const payload: PrescreenJobPayload = {
      testId,
      prescreen: { language: 'en', asr: { model: 'tiny.en-bundled', device: 'cpu' }, currentCheckpointId: null },
    };
    const queued = await enqueueJob(db, { kind: PRESCREEN_JOB, payload });
    assert.equal(queued.status, 'queued');
    assert.equal((await latestPrescreenJob(db, testId))?.id, queued.id, "the test's preparation is the job");

    // The first worker renders four stimuli, then stops answering in the middle of the fifth.
    const hung = new Promise<never>((_, reject) => {
      release = reject;
    });
    const first: RenderStimulus = async (c, text, v, seed) => (rendered.length >= 4 ? hung : planted(c, text, v, seed));
    const a = prescreenWorker(first);
    const progress = await waitFor(
      'rendering progress on the job row',
      async () => {
        const p = (await getJob(db, queued.id))?.progress as { stage: string; done: number; total: number | null };
        return p?.stage === 'rendering' && p.done >= 4 && p.total ? p : undefined;
      },
      30,
    );
    assert.equal(progress.done, 4);
    assert.ok(progress.total && progress.total > 4, JSON.stringify(progress));
    const total = progress.total;
    const running = await getJob(db, queued.id);
    assert.equal(running?.status, 'running');
    assert.equal(running?.attempts, 1);
    assert.ok(['draft', 'rendering'].includes((await getListeningTest(db, testId))?.status ?? ''));

    // Its lease runs out as a killed worker's does (another holder's token, the time past): the
    // queue offers the job again, and the hung worker's own heartbeat finds it has lost it.
    await db.execute(
      sql`update jobs set locked_by = 'a-worker-that-died', lease_until = now() - interval '1 second' where id = ${queued.id}`,
    );
    const b = prescreenWorker(planted);
    const seen: { stage: string; done: number }[] = [];
    const ended = await waitFor(
      'the job ends',
      async () => {
        const j = await getJob(db, queued.id);
        const p = j?.progress as { stage: string; done: number } | null;
        if (p && (seen.at(-1)?.stage !== p.stage || seen.at(-1)?.done !== p.done)) seen.push(p);
        return j && ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      300,
    );
    assert.equal(ended.status, 'done', ended.lastError ?? '');
    assert.equal(ended.attempts, 2, 'a second attempt, by the second worker');
    // Resumed, not restarted: the four stored stimuli were not rendered again.
    assert.equal(rendered.length, total, `${rendered.length} renderings for ${total} stimuli`);
    assert.equal(new Set(rendered).size, rendered.length);
    assert.ok(seen.length >= 1, JSON.stringify(seen));

    // Open, with the slow checkpoint left out and its reason stored per checkpoint.
    const opened = await getListeningTest(db, testId);
    assert.equal(opened?.status, 'open');
    const left = await listConditions(db, testId);
    assert.ok(left.some((c) => c.checkpointId === good.id));
    assert.ok(left.some((c) => c.checkpointId === base.id));
    assert.ok(!left.some((c) => c.checkpointId === slow.id), 'the slow checkpoint is out of the crowd test');
    const record = opened?.config.prescreen as {
      device: string;
      checkpoints: { checkpoint_id: string; excluded: boolean; reasons: { code: string }[] }[];
    };
    const byId = new Map(record.checkpoints.map((c) => [c.checkpoint_id, c]));
    assert.equal(byId.get(good.id)?.excluded, false);
    assert.deepEqual(
      byId.get(slow.id)?.reasons.map((r) => r.code),
      ['too_long'],
    );
    assert.equal(record.device, 'cpu');
    const stimuli = await listStimuli(db, testId);
    for (const c of left.filter((x) => x.kind === 'checkpoint' || x.kind === 'base'))
      assert.ok(
        stimuli.some((s) => s.conditionId === c.id),
        `${c.label} has stimuli`,
      );

    // The hung worker comes back: it lost the lease, so it writes nothing, and the job stays done.
    release(new Error('the engine came back'));
    await a.idle();
    const after = await getJob(db, queued.id);
    assert.equal(after?.status, 'done');
    assert.equal(after?.attempts, 2);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a training run holding the only worker does not hold a pre-screen back: it has a slot of its own', async () => {
    const db = t.db;
    let finishTraining: () => void = () => {};
    let training = Promise.resolve();
    const handlers: Record<string, JobHandler> = {
      [TRAINING_RUN_JOB]: {
        async run(ctx) {
          await training;
          await completeJob(ctx.db, ctx.lease);
        },
        async failed() {},
      },
      [PRESCREEN_JOB]: {
        async run(ctx) {
          await completeJob(ctx.db, ctx.lease);
        },
        async failed() {},
      },
    };
    const status = async (id: number) => (await getJob(db, id))?.status;
    const run = async (shortCount: number) => {
      training = new Promise<void>((resolve) => {
        finishTraining = resolve;
      });
      const train = await enqueueJob(db, { kind: TRAINING_RUN_JOB, payload: {} });
      const slots = startWorkerSlots(handlers, { db, logger, count: 1, shortCount, pollMs: 20, leaseMs: 5000 });
      workers.push(...slots);
      await waitFor('training claimed', async () => ((await status(train.id)) === 'running' ? true : undefined), 10);
      const screen = await enqueueJob(db, { kind: PRESCREEN_JOB, payload: { testId: 'none' } });
      // Many polls' time: a free worker would have claimed it long before.
      await new Promise((r) => setTimeout(r, 1000));
      const seen = await status(screen.id);
      finishTraining();
      const both = async () => (await status(screen.id)) === 'done' && (await status(train.id)) === 'done';
      await waitFor('both done', async () => ((await both()) ? true : undefined), 10);
      await Promise.all(slots.map((w) => w.stop()));
      return seen;
    };
    assert.equal(await run(1), 'done', 'the pre-screen ran while the training run held the general worker');
    // Without the slot, the pre-screen waits for the training run: what the slot is for.
    assert.equal(await run(0), 'queued');
  });
});
