// Acceptance: a worker killed mid-run. A fine-tuning run of the tiny model (3 epochs of 6 optimizer
// steps on CPU) is SIGKILLed with its worker once an epoch's checkpoint (not the last's, in
// practice the first's) is registered and is the newest in the run folder, and the next epoch has
// taken a few steps (see killMidRun). Its Python trainer must go with it, the run must be
// taken over once the lease runs out and resume from its last complete checkpoint (not from step
// 0), and end complete: every epoch's checkpoint registered once, its package whole and loadable,
// no half-written checkpoint or package folder, and one loss-curve row per step: the rows of the
// steps the killed attempt ran past its last checkpoint are replaced by the resumed attempt's.
// At most one trainer process for the run exists at any moment.
//
// On Postgres (DATABASE_URL): two `npm run worker` processes share a scratch database; B runs
// beside A before A is killed. On PGlite: the server process (`npm start`) is killed and started
// again on the same DATA_DIR; a second server meanwhile is refused the folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDatasetWithBuild,
  createRunWithJob,
  type Db,
  getJob,
  getRun,
  type Job,
  listCheckpoints,
  listMetrics,
  migrate,
  openDb,
  pgliteDirFor,
} from '../db/index.ts';
import { loadPackage, readManifestJson } from '../inference/index.ts';
import { loadConfig, localStorage } from '../infra/index.ts';
import {
  assertHandedOver,
  assertSecondServerRefused,
  bWaitedOut,
  cleanUpCrashTest,
  ownerPid,
  scratchPostgres,
  startServer,
  watchJobProcesses,
  whileHeld,
  workerAThenB,
} from './helpers/crash.ts';
import { finishBuildAsWorker } from './helpers/datasets.ts';
import { tinyTrainerWeights } from './helpers/e2e.ts';
import { dataDirWithTinyModel } from './helpers/tiny.ts';
import { alive, type NodeProcess, stopProcess, waitFor } from './helpers/worker-process.ts';

// More test files run at once than there are cores, so the Python processes this file starts
// (torch, CTranslate2) run on one thread each: OMP_NUM_THREADS, which both honour. On two threads
// they spend CPU spinning for work the tiny model and short clips cannot share out.
process.env.OMP_NUM_THREADS ??= '1';

const onPostgres = Boolean(loadConfig().databaseUrl);
const LEASE_MS = 1500;
const RUN_NAME = 'crash';
// Three: the kill lands in epoch 2 (after epoch 1's checkpoint), and epoch 3 is still to come when
// it lands a window later; every epoch more is one more export and check of a package.
const EPOCHS = 3;
// Short, and spelled only with letters the tiny vocabulary has (no f, q or x), so no clip is
// rejected: 12 training clips in batches of 2 are 6 optimizer steps an epoch.
const TRAIN = [
  'hello world.',
  'this is a test.',
  'the cat sat on the mat.',
  'good morning to you.',
  'where are you going?',
  'i like green apples.',
  'the sun is bright today.',
  'we walk in the park.',
  'she sings a song.',
  'open the window please.',
  'it is a warm day.',
  'my dog runs away.',
];
const EVAL = ['the bird is on the roof.', 'we go home now.'];
const STEPS_PER_EPOCH = TRAIN.length / 2;
const TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH;
const CONFIG = { epochs: EPOCHS, batch_size: 2, grad_accum: 1, lr: 1e-3, seed: 7, device: 'cpu' };

let tmp = '';
const clips: Array<{ key: string; text: string; wav: Uint8Array; durationS: number; split: 'train' | 'eval' }> = [];
const started: NodeProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
let specPath = '';

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'training-crash-'));
  const all = [...TRAIN.map((t) => [t, 'train'] as const), ...EVAL.map((t) => [t, 'eval'] as const)];
  for (const [i, [text, split]] of all.entries()) {
    const raw = join(tmp, `${i}.raw.wav`);
    const wav = join(tmp, `${i}.wav`);
    execFileSync('espeak-ng', ['-s', '190', '-w', raw, text]);
    execFileSync('sox', [raw, '-r', '22050', '-c', '1', '-b', '16', wav]);
    const bytes = new Uint8Array(readFileSync(wav));
    clips.push({
      key: `clip${String(i + 1).padStart(2, '0')}`,
      text,
      wav: bytes,
      durationS: (bytes.length - 44) / 44100,
      split,
    });
  }
});

after(() => cleanUpCrashTest({ started, spec: specPath, cleanups, tmp }));

/** A DATA_DIR with the tiny model (and the PyTorch weights it was exported from, as `model:pull` keeps them). */
async function tinyDataDir() {
  const dirs = dataDirWithTinyModel('tiny');
  cleanups.push(async () => rmSync(dirs.dataDir, { recursive: true, force: true }));
  await tinyTrainerWeights(dirs);
  return dirs;
}

/** A ready dataset of the clips (its rows written as the builder would) and a queued run on it. */
async function seedRun(db: Db, dataDir: string, packageDir: string) {
  const { dataset } = await createDatasetWithBuild(db, {
    name: 'crash clips',
    language: 'en',
    source: 'recordings',
    chunker: 'sentence',
    options: {},
    recordings: [],
  });
  await finishBuildAsWorker(db, localStorage(dataDir), dataset.id, clips);
  const run = await createRunWithJob(db, {
    name: RUN_NAME,
    datasetId: dataset.id,
    basePackage: packageDir,
    config: CONFIG,
  });
  specPath = localStorage(dataDir).localPath(`runs/${run.id}/spec.json`);
  return run;
}

/**
 * The trainer processes of one run: Python children whose command line names its spec. A
 * trainer's own children (the exporter forks to start its graph checker) are part of it.
 */
const watchTrainers = (spec: string, readToken?: () => Promise<string | null | undefined>) =>
  watchJobProcesses(spec, { what: 'trainer', ownChildren: true, readToken });

/** What the test sees of a run while it trains: its registered checkpoints and its loss-curve rows. */
type Seen = {
  status: string;
  checkpoints: Array<{ epoch: number | null; step: number | null }>;
  metrics: Array<{ id: number; kind: string; step: number }>;
};

/**
 * Mid-run by the database: the newest registered checkpoint (not the last epoch's) and the epoch
 * after it has logged at least two steps (which the resumed attempt runs again), not yet its last
 * (after which the trainer evaluates, writes and exports the next checkpoint). Undefined before.
 */
function midRun(s: Seen): Seen['checkpoints'][number] | undefined {
  assert.ok(!['succeeded', 'failed', 'cancelled'].includes(s.status), `the run ended (${s.status}) before the kill`);
  const latest = s.checkpoints.reduce<Seen['checkpoints'][number] | undefined>(
    (a, c) => ((c.step ?? 0) > (a?.step ?? -1) ? c : a),
    undefined,
  );
  if (!latest) return undefined;
  assert.ok(
    (latest.epoch ?? 0) < EPOCHS,
    `the last epoch's checkpoint was registered before the kill could land: ${JSON.stringify(s.checkpoints.map((c) => [c.epoch, c.step]))}`,
  );
  const past = s.metrics.filter((m) => m.kind === 'train' && m.step > (latest.step ?? 0)).length;
  return past >= 2 && past < STEPS_PER_EPOCH ? latest : undefined;
}

/**
 * Kills `victim` (the worker or server whose trainer runs the run) at the first poll that finds
 * the run mid-run by the database (midRun) and by the run folder at once: the checkpoint the
 * database shows last is the newest complete one on disk, and none is being written. The database
 * follows the trainer's events a little behind it, so the trainer is held (SIGSTOP) while its
 * folder is read: it cannot write a checkpoint between that check and the kill. If it is already
 * past the point the database shows, it goes on (SIGCONT) and the next epoch is waited for.
 * Otherwise it stays held until `ready` (the second worker's wait, which a fast machine would
 * otherwise outrun: the whole run can take less), then `victim` is killed and the trainer goes
 * on, and must exit by itself. Nothing here waits for a set time: every step waits for what the
 * database, the folder or the processes show, up to a deadline that only a stuck run reaches.
 */
async function killMidRun(o: {
  victim: NodeProcess;
  /** The trainer processes `victim` started. */
  trainers: () => number[];
  runDir: string;
  seen: () => Promise<Seen>;
  ready?: { what: string; check: () => Promise<true | undefined> };
  detail: () => string;
}): Promise<{ atKill: Seen; newest: { name: string; step: number }; trainer: number }> {
  return waitFor(
    "an epoch's checkpoint registered and newest on disk, and two steps of the next",
    async () => {
      const s = await o.seen();
      const latest = midRun(s);
      if (!latest) return undefined;
      const [trainer, ...more] = o.trainers().filter(alive);
      if (trainer === undefined || more.length > 0) return undefined;
      return whileHeld(trainer, async () => {
        const writing = readdirSync(join(o.runDir, 'checkpoints')).filter((n) => n.startsWith('.'));
        const newest = checkpointsOnDisk(o.runDir).at(-1);
        if (writing.length > 0 || newest === undefined || newest.step !== latest.step) return undefined;
        if (o.ready) {
          const ready = o.ready;
          await waitFor(ready.what, ready.check, {
            timeoutMs: 120_000,
            everyMs: 50,
            detail: o.detail,
          });
        }
        o.victim.child.kill('SIGKILL');
        await o.victim.exited;
        return { atKill: s, newest, trainer };
      });
    },
    { timeoutMs: 480_000, everyMs: 50, detail: o.detail },
  );
}

/** The complete checkpoints in the run folder (the trainer resumes from the last): [{name, step}]. */
function checkpointsOnDisk(runDir: string): Array<{ name: string; step: number; epoch: number }> {
  const root = join(runDir, 'checkpoints');
  return readdirSync(root)
    .filter((n) => existsSync(join(root, n, 'meta.json')) && !n.startsWith('.'))
    .map((n) => {
      const meta = JSON.parse(readFileSync(join(root, n, 'meta.json'), 'utf8')) as { step: number; epoch: number };
      return { name: n, step: meta.step, epoch: meta.epoch };
    })
    .sort((a, b) => a.step - b.step);
}

/** What the job logged of where each trainer process started (its 'start' event). */
function trainerStarts(output: string) {
  return output.split('\n').flatMap((line) => {
    try {
      const j = JSON.parse(line) as {
        msg?: string;
        step?: number;
        checkpoint?: string | null;
        droppedMetrics?: number;
      };
      return j.msg === 'training from the start' || j.msg === 'resuming from a checkpoint'
        ? [[j.msg, j.step, j.checkpoint, j.droppedMetrics]]
        : [];
    } catch {
      return [];
    }
  });
}

/**
 * The killed worker's trainer started from scratch; the second one's from the last complete
 * checkpoint, and the job dropped the rows the killed attempt had logged past it.
 */
function assertStarts(
  first: string,
  second: string,
  resumedFrom: { name: string; step: number },
  killed: Seen['metrics'],
) {
  assert.deepEqual(trainerStarts(first), [['training from the start', 0, null, 0]]);
  assert.deepEqual(trainerStarts(second), [
    [
      'resuming from a checkpoint',
      resumedFrom.step,
      resumedFrom.name,
      killed.filter((m) => m.step > resumedFrom.step).length,
    ],
  ]);
}

/** The checks common to both databases, on the finished run's rows and folders. */
async function assertComplete(
  db: Db,
  o: {
    dataDir: string;
    modelDir: string;
    runId: string;
    resumeStep: number;
    /** The loss-curve rows stored when the killed worker had died. */
    killed: Seen['metrics'];
  },
) {
  const run = await getRun(db, o.runId);
  assert.ok(run);
  assert.equal(run.status, 'succeeded', `the run succeeded (${run.errorCode}: ${run.error})`);
  assert.ok(run.jobId !== null);
  const job = (await getJob(db, run.jobId)) as Job;
  assert.equal(job.status, 'done');
  assert.equal(job.attempts, 2, 'claimed twice: by the killed worker, then by the one that finished');
  assert.equal(job.lockedBy, null);

  // Every epoch's checkpoint, registered once, each its own whole package.
  const names = Array.from({ length: EPOCHS }, (_, i) => `${RUN_NAME}-e${i + 1}-s${(i + 1) * STEPS_PER_EPOCH}`);
  const rows = (await listCheckpoints(db, { runId: o.runId })).sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
  assert.deepEqual(
    rows.map((k) => [k.epoch, k.step]),
    names.map((_, i) => [i + 1, (i + 1) * STEPS_PER_EPOCH]),
    'one checkpoint row per epoch: none registered twice',
  );
  const exportDir = join(o.modelDir, 'runs', o.runId);
  assert.deepEqual(
    rows.map((k) => k.packagePath),
    names.map((n) => join(exportDir, n)),
  );
  assert.deepEqual(readdirSync(exportDir).sort(), names, 'the packages and nothing else (no half-exported folder)');
  for (const k of rows) {
    const dir = k.packagePath as string;
    const { json, key } = await readManifestJson(dir);
    assert.equal(json.kind, 'fine-tuned');
    assert.equal(k.packageKey, key, `${dir}: registered from the manifest now on disk`);
    const loaded = await loadPackage(dir);
    await loaded.release();
  }
  const runDir = localStorage(o.dataDir).localPath(`runs/${o.runId}`);
  assert.deepEqual(
    readdirSync(join(runDir, 'checkpoints')).sort(),
    names,
    'the checkpoints and nothing else (no half-written folder)',
  );

  // The loss curves: one train row per optimizer step, one eval row at the start and per epoch.
  const metrics = await listMetrics(db, o.runId);
  const train = metrics.filter((m) => m.kind === 'train');
  const evals = metrics.filter((m) => m.kind === 'eval');
  const steps = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  assert.deepEqual(
    train.map((m) => m.step),
    steps(1, TOTAL_STEPS),
    'one train row per step: the steps run again after the resume are not duplicated',
  );
  assert.deepEqual(
    evals.map((m) => m.step),
    steps(0, EPOCHS).map((e) => e * STEPS_PER_EPOCH),
    'one eval row before training and one per epoch',
  );
  // Resumed, not started over: the second attempt logged the steps after its checkpoint only,
  // and the first attempt's rows up to that checkpoint are kept.
  const lastKilledId = Math.max(...o.killed.map((m) => m.id));
  const killedSteps = o.killed.filter((m) => m.kind === 'train').map((m) => m.step);
  assert.ok(
    Math.max(...killedSteps) > o.resumeStep,
    `the killed attempt had logged steps past its last checkpoint (${killedSteps.join(', ')}), which were run again`,
  );
  assert.deepEqual(
    train.filter((m) => m.id > lastKilledId).map((m) => m.step),
    steps(o.resumeStep + 1, TOTAL_STEPS),
    `the second attempt trained from step ${o.resumeStep + 1}`,
  );
  assert.deepEqual(
    train.filter((m) => m.id <= lastKilledId).map((m) => m.step),
    steps(1, o.resumeStep),
  );
  for (const m of metrics) assert.ok(m.loss !== null && Number.isFinite(m.loss), `${m.kind} ${m.step}: a loss`);
}

describe('a worker killed mid-run', () => {
  it('on Postgres: worker B waits while A holds the lease, takes over once A is killed, and the run resumes and ends complete', {
    skip: !onPostgres && 'runs when DATABASE_URL is set',
  }, async (t) => {
    const { url, db } = await scratchPostgres(cleanups);
    const { dataDir, modelDir, packageDir } = await tinyDataDir();
    const run = await seedRun(db, dataDir, packageDir);
    const jobId = run.jobId as number;

    const env = {
      DATABASE_URL: url,
      DATA_DIR: dataDir,
      MODEL_DIR: modelDir,
      JOB_LEASE_MS: String(LEASE_MS),
      JOB_WORKERS: '1',
      JOB_KINDS: 'training.run',
      LOG_LEVEL: 'info',
    };
    const lockedBy = async () => (await getJob(db, jobId))?.lockedBy;
    const watch = watchTrainers(specPath, lockedBy);
    const seen = async (): Promise<Seen> => ({
      status: (await getRun(db, run.id))?.status ?? 'missing',
      checkpoints: await listCheckpoints(db, { runId: run.id }),
      metrics: await listMetrics(db, run.id),
    });
    const runDir = localStorage(dataDir).localPath(`runs/${run.id}`);
    let a: NodeProcess;
    let b: NodeProcess;
    let atKill: Seen;
    let killed: Seen['metrics'];
    let resumeStep: number;
    let resumeName = '';
    const t0 = Date.now();
    try {
      // B runs beside A from the claim on, polling the queue every second with a lease of 1.5 s.
      let logs: () => string;
      ({ a, b, logs } = await workerAThenB(env, started, { job: 'run', lockedBy }));
      const bReady = Date.now();
      const aWorker = a;
      // B must have had several lease periods in which it could (wrongly) take the job: the kill
      // waits (the trainer held at the kill point) until A has renewed its lease more than three
      // lease periods after B started polling.
      const bWaited = bWaitedOut(() => getJob(db, jobId), a, bReady, LEASE_MS);
      let trainer: number;
      let newest: { name: string };
      ({ atKill, trainer, newest } = await killMidRun({
        victim: a,
        trainers: () => watch.startedBy(aWorker.pid),
        runDir,
        seen,
        ready: { what: 'A to renew its lease more than three lease periods after B started polling', check: bWaited },
        detail: logs,
      }));
      // Read at once: B's trainer, seconds away, is the next to touch them.
      killed = await listMetrics(db, run.id);
      const aTrainers = watch.startedBy(a.pid);
      const jobBefore = (await getJob(db, jobId)) as Job;
      assert.equal(ownerPid(jobBefore.lockedBy), a.pid, 'A still held the job: B never took it while A lived');
      assert.equal(jobBefore.attempts, 1);
      assert.deepEqual(aTrainers, [trainer], "A's Python trainer was running");
      assert.ok(!/"msg":"job started"/.test(b.output()), 'B started no job while A held it');
      await waitFor(
        "A's Python trainer to exit with it",
        () => (aTrainers.every((pid) => !alive(pid)) ? true : undefined),
        { timeoutMs: 30_000, everyMs: 50 },
      );
      const onDisk = checkpointsOnDisk(runDir);
      resumeStep = onDisk.at(-1)?.step ?? 0;
      resumeName = onDisk.at(-1)?.name ?? '';
      assert.equal(resumeName, newest.name, 'no checkpoint was written after the one the kill was timed on');
      t.diagnostic(
        `killed A after ${((Date.now() - t0) / 1000).toFixed(1)} s at step ${Math.max(...atKill.metrics.map((m) => m.step))}; checkpoints on disk: ${onDisk.map((c) => c.name).join(', ')}`,
      );

      await waitFor(
        'the run to succeed after the takeover',
        async () => {
          const r = await getRun(db, run.id);
          assert.notEqual(r?.status, 'failed', `the run failed: ${r?.errorCode} ${r?.error}`);
          return r?.status === 'succeeded' ? r : undefined;
        },
        { timeoutMs: 600_000, everyMs: 250, detail: logs },
      );
      await stopProcess(b);
    } finally {
      await watch.stop();
    }
    t.diagnostic(`the run ended ${((Date.now() - t0) / 1000).toFixed(1)} s after the first worker started`);
    assertHandedOver(watch, a, b, { process: 'trainer', job: 'run' });
    assert.ok(resumeStep >= STEPS_PER_EPOCH && resumeStep < TOTAL_STEPS, `resumed mid-run (step ${resumeStep})`);
    assertStarts(a.output(), b.output(), { name: resumeName, step: resumeStep }, killed);
    await assertComplete(db, {
      dataDir,
      modelDir,
      runId: run.id,
      resumeStep,
      killed,
    });
  });

  it('on PGlite: the server killed mid-run resumes the run when started again on its DATA_DIR', {
    skip: onPostgres && 'runs on the embedded database (DATABASE_URL unset)',
  }, async (t) => {
    const { dataDir, modelDir, packageDir } = await tinyDataDir();
    // The dataset and the queued run are written before the server starts; it claims the run at once.
    const seedHandle = await openDb({ pgliteDir: pgliteDirFor(dataDir) });
    let runId: string;
    try {
      await migrate(seedHandle);
      runId = (await seedRun(seedHandle.db, dataDir, packageDir)).id;
    } finally {
      await seedHandle.close();
    }
    const env = {
      DATABASE_URL: '',
      DATA_DIR: dataDir,
      MODEL_DIR: modelDir,
      PORT: '0',
      JOB_LEASE_MS: String(LEASE_MS),
      JOB_WORKERS: '1',
      LOG_LEVEL: 'info',
    };
    const t0 = Date.now();
    const s1 = await startServer(env, started);
    const watch = watchTrainers(specPath);
    const seen = async (s: { url: string; auth: Record<string, string> }): Promise<Seen> => {
      const r = await fetch(`${s.url}/v1/training-runs/${runId}`, { headers: s.auth });
      assert.equal(r.status, 200);
      const view = (await r.json()) as { status: string; checkpoints: Seen['checkpoints'] };
      const m = await fetch(`${s.url}/v1/training-runs/${runId}/metrics`, { headers: s.auth });
      assert.equal(m.status, 200);
      const curves = (await m.json()) as { train: Seen['metrics']; eval: Seen['metrics'] };
      return { status: view.status, checkpoints: view.checkpoints, metrics: [...curves.train, ...curves.eval] };
    };

    let s2: Awaited<ReturnType<typeof startServer>> | undefined;
    let atKill: Seen;
    let killed: Seen['metrics'];
    let resumeStep: number;
    let resumeName = '';
    const runDir = localStorage(dataDir).localPath(`runs/${runId}`);
    try {
      let trainer: number;
      let newest: { name: string };
      ({ atKill, trainer, newest } = await killMidRun({
        victim: s1.p,
        trainers: () => watch.startedBy(s1.p.pid),
        runDir,
        seen: () => seen(s1),
        detail: () => s1.p.output().slice(-3000),
      }));
      const s1Trainers = watch.startedBy(s1.p.pid);
      assert.deepEqual(s1Trainers, [trainer], "the server's Python trainer was running");
      await waitFor(
        "the killed server's Python trainer to exit with it",
        () => (s1Trainers.every((pid) => !alive(pid)) ? true : undefined),
        { timeoutMs: 30_000, everyMs: 50 },
      );
      const stopped = await openDb({ pgliteDir: pgliteDirFor(dataDir) });
      try {
        killed = await listMetrics(stopped.db, runId);
      } finally {
        await stopped.close();
      }
      const onDisk = checkpointsOnDisk(runDir);
      resumeStep = onDisk.at(-1)?.step ?? 0;
      resumeName = onDisk.at(-1)?.name ?? '';
      assert.equal(resumeName, newest.name, 'no checkpoint was written after the one the kill was timed on');
      t.diagnostic(
        `killed the server after ${((Date.now() - t0) / 1000).toFixed(1)} s at step ${Math.max(...atKill.metrics.map((m) => m.step))}; checkpoints on disk: ${onDisk.map((c) => c.name).join(', ')}`,
      );

      s2 = await startServer(env, started);
      await assertSecondServerRefused(env, started);
      const s = s2;
      await waitFor(
        'the run to succeed after the restart',
        async () => {
          const r = await seen(s);
          assert.notEqual(r.status, 'failed', `the run failed: ${s.p.output().slice(-3000)}`);
          return r.status === 'succeeded' ? r : undefined;
        },
        { timeoutMs: 600_000, everyMs: 250, detail: () => s.p.output().slice(-3000) },
      );
      await stopProcess(s2.p);
      assert.equal(await s2.p.exited, 0, s2.p.output());
    } finally {
      await watch.stop();
    }
    t.diagnostic(`the run ended ${((Date.now() - t0) / 1000).toFixed(1)} s after the first server started`);
    assert.deepEqual(watch.seen.errors, []);
    assert.equal(watch.seen.maxProcesses, 1, 'never two trainers of the run at once');
    assert.deepEqual([...watch.seen.processes.values()], [s1.p.pid, s2.p.pid], 'one trainer per server, in turn');
    assert.match(s2.p.output(), /"attempt":2[^\n]*"msg":"job started"/, 'the restarted server ran the second attempt');
    assert.ok(resumeStep >= STEPS_PER_EPOCH && resumeStep < TOTAL_STEPS, `resumed mid-run (step ${resumeStep})`);
    assertStarts(s1.p.output(), s2.p.output(), { name: resumeName, step: resumeStep }, killed);

    const handle = await openDb({ pgliteDir: pgliteDirFor(dataDir) });
    try {
      await assertComplete(handle.db, {
        dataDir,
        modelDir,
        runId,
        resumeStep,
        killed,
      });
    } finally {
      await handle.close();
    }
  });
});
