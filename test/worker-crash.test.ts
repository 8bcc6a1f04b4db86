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
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createDatasetWithBuild,
  type Dataset,
  type Db,
  type DbHandle,
  getDataset,
  getJob,
  type Job,
  listDatasetClips,
  migrate,
  openDb,
  pgliteDirFor,
} from '../db/index.ts';
import { loadConfig, localStorage } from '../infra/index.ts';
import { datasetKeys, makeRecordings, type Recording } from '../trainer/index.ts';
import { freshDatabase } from './helpers/db.ts';
import {
  alive,
  type NodeProcess,
  processesWithArg,
  spawnNode,
  stopProcess,
  waitFor,
} from './helpers/worker-process.ts';

const onPostgres = Boolean(loadConfig().databaseUrl);
const OPTIONS = { asr: { model: 'tiny.en-bundled', device: 'cpu' } };
const LEASE_MS = 1500;
/** Stages of the builder after which the kill counts as "mid-build, past decoding". */
const EARLY_STAGES = new Set(['starting', 'decode']);
const HOST = hostname();

/** The worker process a fencing token (`host/pid/…/uuid`) belongs to. */
const ownerPid = (token: string | null | undefined) => {
  if (!token) return undefined;
  const [host, pid] = token.split('/');
  return host === HOST ? Number(pid) : undefined;
};

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

after(async () => {
  for (const p of started) await stopProcess(p, 'SIGKILL');
  // A builder left behind would be a failure already reported; do not let it outlive the test.
  if (specPath) for (const p of processesWithArg(specPath)) killQuietly(p.pid);
  for (const c of cleanups.reverse()) await c().catch(() => {});
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function killQuietly(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Watches, every 100 ms, the builder processes of one dataset (Python children whose command line
 * names its build spec) and, where it can read the database, the job's fencing token.
 */
function watchBuild(spec: string, readToken?: () => Promise<string | null | undefined>) {
  const seen = {
    maxBuilders: 0,
    /** Each builder process, with the worker that started it (its parent when first seen). */
    builders: new Map<number, number>(),
    /** The owners of the job's token, in the order they held it. */
    owners: [] as number[],
    errors: [] as string[],
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const builders = processesWithArg(spec).filter((p) => p.cmdline.some((a) => a.endsWith('job_entry.py')));
      seen.maxBuilders = Math.max(seen.maxBuilders, builders.length);
      if (builders.length > 1) {
        seen.errors.push(`two builders at once: ${builders.map((b) => `${b.pid} (parent ${b.ppid})`).join(', ')}`);
      }
      for (const b of builders) if (!seen.builders.has(b.pid)) seen.builders.set(b.pid, b.ppid);
      if (readToken) {
        const owner = ownerPid(await readToken().catch(() => undefined));
        if (owner !== undefined && seen.owners.at(-1) !== owner) seen.owners.push(owner);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    seen,
    builderOf: (workerPid: number) => [...seen.builders].filter(([, ppid]) => ppid === workerPid).map(([pid]) => pid),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

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
    const fresh = await freshDatabase();
    cleanups.push(() => fresh.drop());
    const url = fresh.url as string;
    const handle: DbHandle = await openDb({ databaseUrl: url, maxConnections: 2 });
    cleanups.push(() => handle.close());
    await migrate(handle, url);
    const db = handle.db;

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
    const watch = watchBuild(specPath, async () => (await getJob(db, jobId))?.lockedBy);
    const logs = () => `A:\n${a.output().slice(-3000)}\nB:\n${b?.output().slice(-3000) ?? ''}`;
    const a = spawnNode(['api/worker.ts'], env);
    started.push(a);
    let b: NodeProcess | undefined;
    try {
      await waitFor('worker A to claim the build', async () => (await getJob(db, jobId))?.lockedBy ?? undefined, {
        timeoutMs: 60_000,
        detail: logs,
      }).then((token) => assert.equal(ownerPid(token), a.pid, 'worker A holds the job'));

      // B runs beside A from here on, polling the queue every second with a lease of 1.5 s.
      b = spawnNode(['api/worker.ts'], env);
      started.push(b);
      const bp = b;
      await waitFor('worker B to start', () => (/job workers started/.test(bp.output()) ? true : undefined), {
        timeoutMs: 60_000,
        detail: logs,
      });
      const bReady = Date.now();
      // Mid-build: past decoding, and B has had several lease periods to (wrongly) take the job.
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
          return pastDecoding(d) && Date.now() - bReady > 3 * LEASE_MS ? d : undefined;
        },
        { timeoutMs: 240_000, everyMs: 100, detail: logs },
      );
      const jobBefore = (await getJob(db, jobId)) as Job;
      assert.equal(ownerPid(jobBefore.lockedBy), a.pid, 'A still holds the job: B never took it while A lived');
      assert.equal(jobBefore.attempts, 1);
      const aBuilders = watch.builderOf(a.pid);
      assert.equal(aBuilders.length, 1, "A's Python builder was running");
      assert.ok(!/"msg":"job started"/.test(b.output()), 'B started no job while A held it');
      t.diagnostic(`killed A at ${JSON.stringify(atKill.progress)}`);

      a.child.kill('SIGKILL');
      await a.exited;
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
    assert.deepEqual(watch.seen.errors, []);
    assert.equal(watch.seen.maxBuilders, 1, 'never two builders of the job at once');
    assert.deepEqual(watch.seen.owners, [a.pid, b.pid], 'the job was held by A, then by B, never back and forth');
    assert.deepEqual([...watch.seen.builders.values()], [a.pid, b.pid], 'one builder started by A, then one by B');
    assert.match(b.output(), /"attempt":2[^\n]*"msg":"job started"/, 'B ran the second attempt');
    assert.doesNotMatch(b.output(), /"attempt":1[^\n]*"msg":"job started"/);
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
    const startServer = async () => {
      const p = spawnNode(['api/server.ts'], env);
      started.push(p);
      const url = await waitFor(
        'the server to listen',
        () => {
          if (p.child.exitCode !== null) throw new Error(`the server exited (${p.child.exitCode}):\n${p.output()}`);
          return /listening on (http:\/\/\S+)/.exec(p.output())?.[1];
        },
        { timeoutMs: 90_000 },
      );
      const lock = JSON.parse(readFileSync(join(dataDir, 'server.lock.json'), 'utf8')) as {
        pid: number;
        secret: string;
      };
      assert.equal(lock.pid, p.pid);
      return { p, url, auth: { Authorization: `Bearer ${lock.secret}` } };
    };
    const s1 = await startServer();
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
      // The embedded database belongs to one process: a second server on the folder is refused.
      const rival = spawnNode(['api/server.ts'], env);
      started.push(rival);
      assert.equal(await rival.exited, 1, rival.output());
      assert.match(rival.output(), /in use by another server/);
      assert.ok(alive(s1.p.pid));
      const s1Builders = watch.builderOf(s1.p.pid);
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

      s2 = await startServer();
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
    assert.equal(watch.seen.maxBuilders, 1, 'never two builders of the job at once');
    assert.deepEqual([...watch.seen.builders.values()], [s1.p.pid, s2.p.pid], 'one builder per server, in turn');
    assert.match(s2.p.output(), /"attempt":2[^\n]*"msg":"job started"/, 'the restarted server ran the second attempt');

    const handle = await openDb({ pgliteDir: pgliteDirFor(dataDir) });
    try {
      await assertComplete(handle.db, dataDir, datasetId, s1.p.pid, s2.p.pid);
    } finally {
      await handle.close();
    }
  });
});
