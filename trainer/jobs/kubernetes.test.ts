import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import {
  claimJob,
  enqueueJob,
  failJob,
  getJob,
  heartbeatJob,
  requestCancel,
  requeueJob,
  schema,
  TRAINING_RUN_JOB,
} from '../../db/index.ts';
import { configVariables, loadConfig } from '../../infra/index.ts';
import { openTestDb, type TestDb } from '../../test/helpers/db.ts';
import {
  createKubernetesJob,
  KubernetesApiError,
  launchTrainingJobs,
  startKubernetesLauncher,
  type TrainerJobManifest,
  trainerJobManifest,
} from './kubernetes.ts';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in for the Kubernetes API on 127.0.0.1: it keeps Jobs by name, as the real one does. */
type Seen = {
  method: string;
  path: string;
  auth: string | undefined;
  type: string | undefined;
  body: TrainerJobManifest;
};
async function fakeApi() {
  const seen: Seen[] = [];
  const jobs = new Map<string, TrainerJobManifest>();
  let refuse: { status: number; reason: string; message: string } | undefined;
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => {
      text += d;
    });
    req.on('end', () => {
      const body = JSON.parse(text) as TrainerJobManifest;
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body,
      });
      const reply = (status: number, obj: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (refuse) return reply(refuse.status, { kind: 'Status', ...refuse, status: 'Failure', code: refuse.status });
      const name = body.metadata.name;
      if (jobs.has(name)) {
        return reply(409, { kind: 'Status', reason: 'AlreadyExists', message: `jobs.batch "${name}" already exists` });
      }
      jobs.set(name, body);
      reply(201, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    jobs,
    refuse(r: typeof refuse) {
      refuse = r;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const opts = { image: 'registry.example/xtts-studio-trainer:1.2.3', gpus: 1 };

describe('trainerJobManifest', () => {
  it('names the Job after the queue job and its attempt, and leaves retries to the queue', () => {
    const m = trainerJobManifest({ id: 42, attempt: 3 }, opts);
    assert.equal(m.apiVersion, 'batch/v1');
    assert.equal(m.kind, 'Job');
    assert.equal(m.metadata.name, 'xtts-train-42-3');
    assert.match(m.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    assert.equal(m.metadata.labels['xtts-studio/job-id'], '42');
    assert.deepEqual(m.spec.template.metadata.labels, m.metadata.labels);
    assert.equal(m.spec.backoffLimit, 0);
    assert.ok(m.spec.ttlSecondsAfterFinished > 0);
    assert.equal(m.spec.template.spec.restartPolicy, 'Never');
    assert.throws(() => trainerJobManifest({ id: 0, attempt: 1 }, opts));
    assert.throws(() => trainerJobManifest({ id: 1.5, attempt: 1 }, opts));
  });

  for (const gpus of [1, 4]) {
    it(`runs a training.run worker that exits when idle, on ${gpus} GPU(s), with valid config variables`, () => {
      const m = trainerJobManifest({ id: 7, attempt: 1 }, { ...opts, gpus });
      const [c] = m.spec.template.spec.containers;
      assert.ok(c);
      assert.equal(c.image, opts.image);
      // The image's entry point (tini) stays; the worker is what it starts.
      assert.deepEqual(c.args, ['node', 'api/worker.ts']);
      assert.equal((c as { command?: unknown }).command, undefined);
      assert.equal(c.resources.limits['nvidia.com/gpu'], gpus);
      for (const e of c.env) assert.ok(configVariables.includes(e.name), `${e.name} is a config variable`);
      const db = c.env.find((e) => e.name === 'DATABASE_URL');
      assert.deepEqual(db?.valueFrom, { secretKeyRef: { name: 'xtts-studio-db', key: 'url' } });
      const literal = Object.fromEntries(c.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
      const config = loadConfig({ ...literal, DATABASE_URL: 'postgres://u:p@db:5432/studio' });
      assert.deepEqual(config.jobKinds, [TRAINING_RUN_JOB]);
      assert.equal(config.workerExitWhenIdle, true);
      assert.equal(config.jobWorkers, 1);
      assert.equal(config.trainerGpus, gpus);
      assert.equal(config.dataDir, '/data');
      assert.deepEqual(
        c.volumeMounts.map((v) => v.mountPath),
        ['/data', '/dev/shm'],
      );
    });
  }
});

describe('createKubernetesJob', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  before(async () => {
    api = await fakeApi();
  });
  after(() => api.close());

  it('POSTs the Job to the namespace with the bearer token; an existing Job of that name is success', async () => {
    const m = trainerJobManifest({ id: 5, attempt: 1 }, opts);
    const target = { apiUrl: `${api.url}/`, namespace: 'voices', token: 'sa-token' };
    assert.deepEqual(await createKubernetesJob(m, target), { created: true });
    const [req] = api.seen;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.path, '/apis/batch/v1/namespaces/voices/jobs');
    assert.equal(req?.auth, 'Bearer sa-token');
    assert.equal(req?.type, 'application/json');
    assert.deepEqual(req?.body, m);
    assert.deepEqual(await createKubernetesJob(m, target), { created: false });
    assert.equal(api.seen.length, 2);
  });

  it('throws the API server’s reason and message on any other refusal', async () => {
    api.refuse({ status: 403, reason: 'Forbidden', message: 'jobs.batch is forbidden: cannot create resource "jobs"' });
    const m = trainerJobManifest({ id: 6, attempt: 1 }, opts);
    await assert.rejects(
      createKubernetesJob(m, { apiUrl: api.url, namespace: 'voices', token: 't' }),
      (err: unknown) =>
        err instanceof KubernetesApiError &&
        err.status === 403 &&
        err.reason === 'Forbidden' &&
        /xtts-train-6-1/.test(err.message) &&
        /cannot create resource "jobs"/.test(err.message),
    );
    api.refuse(undefined);
  });
});

// On PGlite by default and on the Postgres server when DATABASE_URL is set (CI runs both).
describe('the Kubernetes launcher', () => {
  let t: TestDb;
  let api: Awaited<ReturnType<typeof fakeApi>>;
  let saDir: string;
  const launcher = () => ({
    db: t.db,
    logger,
    apiUrl: api.url,
    namespace: 'studio',
    serviceAccountDir: saDir,
    job: opts,
  });
  const enqueueRun = (extra: { runAt?: Date } = {}) =>
    enqueueJob(t.db, { kind: TRAINING_RUN_JOB, payload: { runId: 'r' }, ...extra });

  before(async () => {
    t = await openTestDb();
    saDir = mkdtempSync(join(tmpdir(), 'sa-'));
    writeFileSync(join(saDir, 'token'), 'launcher-token\n');
  });
  after(async () => {
    await t.dispose();
    rmSync(saDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    api = await fakeApi();
    await t.db.delete(schema.jobs);
  });

  it('launches one Job per claimable run, once, also across a restart; cancelled and future runs get none', async () => {
    const a = await enqueueRun();
    const b = await enqueueRun();
    const later = await enqueueRun({ runAt: new Date(Date.now() + 3_600_000) });
    const cancelled = await enqueueRun();
    assert.equal(await requestCancel(t.db, cancelled.id), 'cancelled');
    await enqueueJob(t.db, { kind: 'dataset.build', payload: {} });

    const names = await launchTrainingJobs(launcher());
    assert.deepEqual(names, [`xtts-train-${a.id}-1`, `xtts-train-${b.id}-1`]);
    assert.equal(api.seen.length, 2);
    for (const req of api.seen) {
      assert.equal(req.path, '/apis/batch/v1/namespaces/studio/jobs');
      assert.equal(req.auth, 'Bearer launcher-token');
    }
    const record = (await getJob(t.db, a.id))?.payload.k8s_job as { name: string; count: number; state: string };
    assert.equal(record.name, `xtts-train-${a.id}-1`);
    assert.equal(record.count, 1);
    assert.match(record.state, /^0@\d+(\.\d+)?$/, 'made for attempt 0 at its run_at');
    assert.equal((await getJob(t.db, later.id))?.payload.k8s_job, undefined);

    assert.deepEqual(await launchTrainingJobs(launcher()), []);
    // A restarted API: a new launcher polling the same queue.
    const again = startKubernetesLauncher({ ...launcher(), pollMs: 10 });
    await sleep(100);
    await again.stop();
    assert.equal(api.seen.length, 2, 'no Job launched twice');
  });

  it('a crash between creating the Job and recording it does not start a second pod', async () => {
    const job = await enqueueRun();
    // The Job exists, the record does not (the API stopped in between).
    await createKubernetesJob(trainerJobManifest({ id: job.id, attempt: 1 }, opts), {
      apiUrl: api.url,
      namespace: 'studio',
      token: 't',
    });
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-1`]);
    assert.equal(api.jobs.size, 1);
    assert.deepEqual(await launchTrainingJobs(launcher()), []);
  });

  it('launches again when the run is claimable again: lease expired, retried, resumed; never reusing a name', async () => {
    const job = await enqueueRun();
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-1`]);
    // A lease far longer than the test, so it is live however slowly a loaded machine gets here.
    const claimed = await claimJob(t.db, { workerId: 'pod-1', kinds: [TRAINING_RUN_JOB], leaseMs: 600_000 });
    assert.equal(claimed.job?.id, job.id);
    assert.ok(claimed.job);
    assert.deepEqual(await launchTrainingJobs(launcher()), [], 'a live lease needs no pod');
    // The pod died: its lease runs out (moved into the past, rather than waited for).
    assert.equal(await heartbeatJob(t.db, claimed.lease, -1000), 'ok');
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-2`]);
    assert.equal(await failJob(t.db, claimed.lease, 'TRAINER_CRASHED', { retry: true, retryInMs: 0 }), 'queued');
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-3`]);
    assert.equal(await requestCancel(t.db, job.id), 'cancelled');
    assert.deepEqual(await launchTrainingJobs(launcher()), []);
    assert.equal(await requeueJob(t.db, job.id), true);
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-4`]);
    assert.equal(api.jobs.size, 4);
  });

  it('a refused launch is not recorded, and the next pass tries again', async () => {
    const job = await enqueueRun();
    api.refuse({ status: 403, reason: 'Forbidden', message: 'no RBAC' });
    assert.deepEqual(await launchTrainingJobs(launcher()), []);
    assert.equal((await getJob(t.db, job.id))?.payload.k8s_job, undefined);
    api.refuse(undefined);
    assert.deepEqual(await launchTrainingJobs(launcher()), [`xtts-train-${job.id}-1`]);
  });
  afterEach(() => api.close());
});
