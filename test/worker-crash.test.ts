// Acceptance: a worker killed mid-build. The dataset build's worker is SIGKILLed while the real
// Python builder transcribes (bundled Whisper tiny.en on CPU, an espeak-ng speaker of ~75 s);
// its Python child must go with it, the job must be taken over once its lease runs out, and the
// dataset must end complete: every clip once, every kept clip's audio on disk, no half-written
// folder. Two workers never build the job at once: at most one builder process for it exists at
// any moment, and the job's fencing token names the first worker until that worker is dead.
//
// On Postgres (DATABASE_URL): two `npm run worker` processes share a scratch database; B runs
// beside A before A is killed. On PGlite: the server process (`npm start`) is killed and started
// again on the same DATA_DIR; a second server meanwhile is refused the folder.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDatasetWithBuild,
  type Dataset,
  type Db,
  getDataset,
  getJob,
  type Job,
  listDatasetClips,
  openDb,
  pgliteDirFor,
} from '../db/index.ts';
import { loadConfig, localStorage } from '../infra/index.ts';
import { datasetKeys, makeRecordings, type Recording } from '../trainer/index.ts';
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
import { alive, type NodeProcess, stopProcess, waitFor } from './helpers/worker-process.ts';

// More test files run at once than there are cores, so the Python processes this file starts
// (torch, CTranslate2) run on one thread each: OMP_NUM_THREADS, which both honour. On two threads
// they spend CPU spinning for work the tiny model and short clips cannot share out.
process.env.OMP_NUM_THREADS ??= '1';

const onPostgres = Boolean(loadConfig().databaseUrl);
const OPTIONS = { asr: { model: 'tiny.en-bundled', device: 'cpu' } };
const LEASE_MS = 1500;
/** Stages of the builder after which the kill counts as "mid-build, past decoding". */
const EARLY_STAGES = new Set(['starting', 'decode']);

let tmp = '';
let recs: Recording[] = [];
const started: NodeProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
let specPath = '';

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'worker-crash-'));
  mkdirSync(join(tmp, 'src'));
  // The fixture's first recording: 14 sentences, about 75 s of speech with clipping, a long
  // silence and a noise burst planted (its second recording is left out, to spare CPU).
  recs = makeRecordings(join(tmp, 'src'), 28).slice(0, 1);
});

after(() => cleanUpCrashTest({ started, spec: specPath, cleanups, tmp }));

/** The builder processes of one dataset: Python children whose command line names its build spec. */
const watchBuild = (spec: string, readToken?: () => Promise<string | null | undefined>) =>
  watchJobProcesses(spec, { what: 'builder', readToken });

const pastDecoding = (d: { status: string; progress: Record<string, unknown> | null } | undefined) =>
  d?.status === 'processing' && typeof d.progress?.stage === 'string' && !EARLY_STAGES.has(d.progress.stage);

/** The checks common to both databases, on the finished dataset's rows and folder. */
async function assertComplete(db: Db, dataDir: string, datasetId: string, workerA: number, workerB: number) {
  const dataset = (await getDataset(db, datasetId)) as Dataset;
  assert.equal(dataset.status, 'ready', `the dataset is ready (${dataset.errorCode}: ${dataset.error})`);
  assert.ok(dataset.jobId !== null);
  const job = (await getJob(db, dataset.jobId)) as Job;
  assert.equal(job.status, 'done');
  assert.equal(job.attempts, 2, 'claimed twice: by the killed worker, then by the one that finished');
  assert.equal(job.lockedBy, null);

  const keys = datasetKeys(datasetId);
  const storage = localStorage(dataDir);
  const buildDir = storage.localPath(keys.build);
  const built = JSON.parse(readFileSync(join(buildDir, 'clips.json'), 'utf8')) as Array<{
    id: string;
    status: string;
  }>;
  const rows = await listDatasetClips(db, datasetId);
  assert.ok(rows.length > 5, `clips were cut (${rows.length})`);
  assert.equal(rows.length, built.length, 'one row per clip of clips.json');
  const rowKeys = rows.map((r) => r.clipKey);
  assert.equal(new Set(rowKeys).size, rowKeys.length, 'no clip key twice');
  assert.deepEqual(new Set(rowKeys), new Set(built.map((c) => c.id)), 'the rows are the clips of the build on disk');
  const kept = rows.filter((r) => r.status === 'kept');
  assert.ok(kept.length > 0, 'some clips were kept');
  for (const r of rows.filter((c) => c.status !== 'dropped')) {
    assert.ok(existsSync(storage.localPath(r.path)), `${r.clipKey}: ${r.path} exists`);
  }
  const metadata = readFileSync(join(buildDir, 'metadata.csv'), 'utf8').split('\n').filter(Boolean);
  assert.equal(metadata.length, kept.length, 'metadata.csv lists every kept clip once');
  assert.equal(new Set(metadata.map((l) => l.split('|')[0])).size, metadata.length);
  const wavs = readdirSync(join(buildDir, 'wavs'));
  assert.equal(new Set(wavs).size, wavs.length);
  for (const w of wavs) assert.ok(rowKeys.includes(w.replace(/\.wav$/, '')), `wavs/${w} belongs to a clip row`);

  // No half-written folder of the killed attempt (`build.partial`) nor a swapped-out one (`build.old-*`).
  const root = storage.localPath(keys.root);
  const leftovers = readdirSync(root).filter((n) => n.startsWith('build.'));
  assert.deepEqual(leftovers, [], `nothing but the published build in ${root}`);

  assert.ok(existsSync(join(buildDir, 'report.json')), 'report.json is written');
  const report = dataset.report as { clips: number; kept: number; recordings: Array<{ decode_cached: boolean }> };
  assert.equal(report.clips, rows.length, 'the stored report counts the stored clips');
  assert.equal(report.kept, kept.length);
  assert.equal(report.recordings.length, recs.length);
  // Resumed, not started over: the second attempt found the decoded audio the first one cached.
  assert.ok(
    report.recordings.every((r) => r.decode_cached),
    'the second attempt reused the decoded recordings',
  );
  assert.ok(workerA !== workerB);
}

describe('a worker killed mid-build', () => {
  it('on Postgres: worker B waits while A holds the lease, takes over once A is killed, and the dataset ends complete', {
    skip: !onPostgres && 'runs when DATABASE_URL is set',
  }, async (t) => {
    const { url, db } = await scratchPostgres(cleanups);
    const dataDir = join(tmp, 'data-pg');
    const storage = localStorage(dataDir);
    const datasetId = randomUUID();
    const recordings = [];
    for (const r of recs) {
      const path = `datasets/${datasetId}/recordings/${randomUUID()}-${basename(r.path)}`;
      const { bytes, sha256 } = await storage.write(path, createReadStream(r.path));
      recordings.push({ id: randomUUID(), name: basename(r.path), path, bytes, sha256, transcript: null });
    }
    const { dataset } = await createDatasetWithBuild(db, {
      id: datasetId,
      name: 'killed mid-build',
      language: 'en',
      source: 'recordings',
      chunker: 'sentence',
      options: OPTIONS,
      recordings,
    });
    const jobId = dataset.jobId as number;
    specPath = storage.localPath(datasetKeys(datasetId).spec);

    const env = {
      DATABASE_URL: url,
      DATA_DIR: dataDir,
      JOB_LEASE_MS: String(LEASE_MS),
      JOB_WORKERS: '1',
      JOB_KINDS: 'dataset.build',
      LOG_LEVEL: 'info',
    };
    const lockedBy = async () => (await getJob(db, jobId))?.lockedBy;
    const watch = watchBuild(specPath, lockedBy);
    let a: NodeProcess;
    let b: NodeProcess;
    try {
      // B runs beside A from the claim on, polling the queue every second with a lease of 1.5 s.
      let logs: () => string;
      ({ a, b, logs } = await workerAThenB(env, started, { job: 'build', lockedBy }));
      const bReady = Date.now();
      // Mid-build: past decoding.
      const atKill = await waitFor(
        'the build to get past decoding',
        async () => {
          const d = await getDataset(db, datasetId);
          assert.notEqual(
            d?.status,
            'ready',
            'the build finished before it could be killed: make the recording longer',
          );
          assert.notEqual(d?.status, 'failed', `the build failed: ${d?.errorCode} ${d?.error}`);
          return pastDecoding(d) ? d : undefined;
        },
        { timeoutMs: 240_000, everyMs: 100, detail: logs },
      );
      const aBuilders = watch.startedBy(a.pid);
      assert.equal(aBuilders.length, 1, "A's Python builder was running");
      // B must have had several lease periods in which it could (wrongly) take the job: the builder
      // is held (so that a fast machine cannot finish the build meanwhile) until A has renewed its
      // lease more than three lease periods after B started polling; then A is killed.
      const aWorker = a;
      const bWorker = b;
      const killedA = await whileHeld(aBuilders[0] as number, async () => {
        await waitFor(
          'A to renew its lease more than three lease periods after B started polling',
          bWaitedOut(() => getJob(db, jobId), aWorker, bReady, LEASE_MS),
          { timeoutMs: 120_000, everyMs: 50, detail: logs },
        );
        const jobBefore = (await getJob(db, jobId)) as Job;
        assert.equal(ownerPid(jobBefore.lockedBy), aWorker.pid, 'A still holds the job: B never took it while A lived');
        assert.equal(jobBefore.attempts, 1);
        assert.ok(!/"msg":"job started"/.test(bWorker.output()), 'B started no job while A held it');
        t.diagnostic(`killed A at ${JSON.stringify(atKill.progress)}`);
        aWorker.child.kill('SIGKILL');
        await aWorker.exited;
        return true;
      });
      assert.ok(killedA, "A's Python builder was running when A was killed");
      await waitFor(
        "A's Python builder to exit with it",
        () => (aBuilders.every((pid) => !alive(pid)) ? true : undefined),
        { timeoutMs: 10_000, everyMs: 50 },
      );

      await waitFor(
        'the dataset to be ready after the takeover',
        async () => {
          const d = await getDataset(db, datasetId);
          assert.notEqual(d?.status, 'failed', `the build failed: ${d?.errorCode} ${d?.error}`);
          return d?.status === 'ready' ? d : undefined;
        },
        { timeoutMs: 300_000, everyMs: 250, detail: logs },
      );
      await stopProcess(b);
    } finally {
      await watch.stop();
    }
    assertHandedOver(watch, a, b, { process: 'builder', job: 'job' });
    await assertComplete(db, dataDir, datasetId, a.pid, b.pid);
  });

  it('on PGlite: the server killed mid-build resumes the build when started again on its DATA_DIR', {
    skip: onPostgres && 'runs on the embedded database (DATABASE_URL unset)',
  }, async (t) => {
    const dataDir = join(tmp, 'data-pglite');
    const env = {
      DATABASE_URL: '',
      DATA_DIR: dataDir,
      PORT: '0',
      JOB_LEASE_MS: String(LEASE_MS),
      JOB_WORKERS: '1',
      LOG_LEVEL: 'info',
    };
    const s1 = await startServer(env, started);
    const form = new FormData();
    form.set('name', 'killed mid-build');
    form.set('language', 'en');
    form.set('chunker', 'sentence');
    form.set('options', JSON.stringify(OPTIONS));
    for (const r of recs) form.append('recordings', new Blob([readFileSync(r.path)]), basename(r.path));
    const created = await fetch(`${s1.url}/v1/datasets`, { method: 'POST', headers: s1.auth, body: form });
    assert.equal(created.status, 202, await created.clone().text());
    const datasetId = ((await created.json()) as { id: string }).id;
    specPath = localStorage(dataDir).localPath(datasetKeys(datasetId).spec);
    const watch = watchBuild(specPath);
    type View = {
      status: string;
      progress: Record<string, unknown> | null;
      error_code: string | null;
      error: string | null;
    };
    const view = async (s: { url: string; auth: Record<string, string> }) => {
      const res = await fetch(`${s.url}/v1/datasets/${datasetId}`, { headers: s.auth });
      assert.equal(res.status, 200);
      return (await res.json()) as View;
    };

    let s2: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const atKill = await waitFor(
        'the build to get past decoding',
        async () => {
          const d = await view(s1);
          assert.notEqual(d.status, 'ready', 'the build finished before it could be killed: make the recording longer');
          assert.notEqual(d.status, 'failed', `the build failed: ${d.error_code} ${d.error}`);
          return pastDecoding(d) ? d : undefined;
        },
        { timeoutMs: 240_000, everyMs: 100, detail: () => s1.p.output().slice(-3000) },
      );
      await assertSecondServerRefused(env, started);
      assert.ok(alive(s1.p.pid));
      const s1Builders = watch.startedBy(s1.p.pid);
      assert.equal(s1Builders.length, 1, "the server's Python builder was running");
      t.diagnostic(`killed the server at ${JSON.stringify(atKill.progress)}`);

      s1.p.child.kill('SIGKILL');
      await s1.p.exited;
      await waitFor(
        "the killed server's Python builder to exit with it",
        () => (s1Builders.every((pid) => !alive(pid)) ? true : undefined),
        { timeoutMs: 10_000, everyMs: 50 },
      );
      // Its lock file is left behind, naming a dead process: it must not keep the folder locked.
      assert.ok(existsSync(join(dataDir, 'server.lock.json')));

      s2 = await startServer(env, started);
      const s = s2;
      await waitFor(
        'the dataset to be ready after the restart',
        async () => {
          const d = await view(s);
          assert.notEqual(d.status, 'failed', `the build failed: ${d.error_code} ${d.error}`);
          return d.status === 'ready' ? d : undefined;
        },
        { timeoutMs: 300_000, everyMs: 250, detail: () => s.p.output().slice(-3000) },
      );
      await stopProcess(s2.p);
      assert.equal(await s2.p.exited, 0, s2.p.output());
    } finally {
      await watch.stop();
    }
    assert.deepEqual(watch.seen.errors, []);
    assert.equal(watch.seen.maxProcesses, 1, 'never two builders of the job at once');
    assert.deepEqual([...watch.seen.processes.values()], [s1.p.pid, s2.p.pid], 'one builder per server, in turn');
    assert.match(s2.p.output(), /"attempt":2[^\n]*"msg":"job started"/, 'the restarted server ran the second attempt');

    const handle = await openDb({ pgliteDir: pgliteDirFor(dataDir) });
    try {
      await assertComplete(handle.db, dataDir, datasetId, s1.p.pid, s2.p.pid);
    } finally {
      await handle.close();
    }
  });
});
