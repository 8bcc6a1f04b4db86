import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  addMetrics,
  claimJob,
  enqueueJob,
  finishRun,
  getJob,
  getRun,
  heartbeatJob,
  insertCheckpoint,
  PRESCREEN_JOB,
  TRAINING_RUN_JOB,
  updateRun,
} from '../db/index.ts';
import { localStorage } from '../infra/index.ts';
import { testApp } from '../test/helpers/app.ts';
import { finishBuildAsWorker, readEvents } from '../test/helpers/datasets.ts';
import { espeakWav } from '../test/helpers/speech.ts';

describe('training runs', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-training-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  let ready = '';
  let queuedDataset = '';
  const nowhere = '00000000-0000-4000-8000-000000000000';
  const post = (path: string, body?: unknown) => {
    const req = t.request.post(path).set(t.auth(t.tokens.admin));
    return body === undefined ? req : req.send(body as object);
  };
  const get = (path: string) => t.request.get(path).set(t.auth(t.tokens.admin));

  before(async () => {
    t = await testApp({ dataDir, eventsPollMs: 20 });
    const wav = espeakWav('Training needs a dataset first.');
    const create = async (name: string) =>
      (
        await t.request
          .post('/v1/datasets')
          .set(t.auth(t.tokens.admin))
          .field('name', name)
          .field('language', 'en')
          .attach('recordings', Buffer.from(wav), 'a.wav')
      ).body.id as string;
    ready = await create('ready');
    queuedDataset = await create('still queued');
    await finishBuildAsWorker(t.db.db, localStorage(dataDir), ready, [
      { key: 'a_0001', text: 'Training needs a dataset first.', wav, durationS: 3.2 },
    ]);
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('needs a base model before anything can train', async () => {
    const res = await post('/v1/training-runs', { dataset_id: ready });
    assert.equal(res.status, 503);
    assert.equal(res.body.code, 'MODEL_NOT_READY');
  });

  let base = '';
  let runId = '';
  it('queues a run with the recipe defaults filled in', async () => {
    base = (await insertCheckpoint(t.db.db, { name: 'xtts-v2', kind: 'base', status: 'ready', packagePath: 'xtts-v2' }))
      .id;
    const res = await post('/v1/training-runs', {
      dataset_id: ready,
      name: 'first',
      options: { epochs: 3, precision: 'bf16', listening_test: { auto_promote: true } },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'queued');
    assert.equal(res.body.base_checkpoint_id, base);
    assert.equal(res.body.base_package, 'xtts-v2');
    const c = res.body.config;
    assert.equal(c.epochs, 3);
    assert.equal(c.precision, 'bf16');
    assert.equal(c.lr, 5e-6);
    assert.deepEqual(c.betas, [0.9, 0.96]);
    assert.equal(c.grad_accum, 84);
    assert.equal(c.batch_size, 3);
    assert.equal(c.max_wav_length, 255995);
    assert.equal(c.prompt_masking, 'coqui');
    assert.deepEqual(c.milestones, [900000, 2700000, 5400000]);
    assert.deepEqual(c.listening_test, { auto_create: true, auto_promote: true });
    assert.deepEqual(res.body.checkpoints, []);
    runId = res.body.id;
    const run = await getRun(t.db.db, runId);
    const job = await getJob(t.db.db, run?.jobId ?? -1);
    assert.equal(job?.kind, TRAINING_RUN_JOB);
    assert.deepEqual(job?.payload, { runId });
    const list = await get(`/v1/training-runs?dataset_id=${ready}`);
    assert.deepEqual(
      list.body.data.map((r: { id: string }) => r.id),
      [runId],
    );
  });

  it('refuses runs it cannot start, naming the field', async () => {
    const fineTuned = await insertCheckpoint(t.db.db, {
      name: 'ft',
      kind: 'fine-tuned',
      status: 'ready',
      packagePath: 'ft',
    });
    const cases: Array<[Record<string, unknown>, number, string, string]> = [
      [{ dataset_id: nowhere }, 404, 'DATASET_NOT_FOUND', 'body.dataset_id'],
      [{ dataset_id: queuedDataset }, 409, 'DATASET_NOT_READY', 'body.dataset_id'],
      [{ dataset_id: ready, voice_id: nowhere }, 404, 'VOICE_NOT_FOUND', 'body.voice_id'],
      [{ dataset_id: ready, base_checkpoint_id: nowhere }, 404, 'CHECKPOINT_NOT_FOUND', 'body.base_checkpoint_id'],
      [{ dataset_id: ready, base_checkpoint_id: fineTuned.id }, 400, 'VALIDATION_FAILED', 'body.base_checkpoint_id'],
      [{ dataset_id: ready, options: { precision: 'fp8' } }, 400, 'VALIDATION_FAILED', 'body.options.precision'],
      [{ dataset_id: ready, options: { lr: -1 } }, 400, 'VALIDATION_FAILED', 'body.options.lr'],
      [{ dataset_id: ready, options: { betas: [0.9] } }, 400, 'VALIDATION_FAILED', 'body.options.betas'],
      [{ dataset_id: ready, options: { learning_rate: 1 } }, 400, 'VALIDATION_FAILED', 'body.options.learning_rate'],
      [
        { dataset_id: ready, options: { listening_test: { sentences: [] } } },
        400,
        'VALIDATION_FAILED',
        'body.options.listening_test.sentences',
      ],
      [{ dataset_id: 'nope' }, 400, 'VALIDATION_FAILED', 'body.dataset_id'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await post('/v1/training-runs', body);
      assert.equal(res.status, status, `${field}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, code, field);
      assert.equal(res.body.field, field);
    }
    assert.equal((await get('/v1/training-runs')).body.data.length, 1, 'nothing else was queued');
    const synth = await t.request.post('/v1/training-runs').set(t.auth(t.tokens.synth)).send({ dataset_id: ready });
    assert.equal(synth.status, 403);
  });

  it('cancels a queued run at once and resumes it', async () => {
    const cancel = await post(`/v1/training-runs/${runId}/cancel`);
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    assert.equal(cancel.body.cancel, 'cancelled');
    assert.equal(cancel.body.status, 'cancelled');
    const again = await post(`/v1/training-runs/${runId}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'RUN_NOT_CANCELLABLE');
    const resume = await post(`/v1/training-runs/${runId}/resume`);
    assert.equal(resume.status, 202, JSON.stringify(resume.body));
    assert.equal(resume.body.status, 'queued');
    const job = await getJob(t.db.db, (await getRun(t.db.db, runId))?.jobId ?? -1);
    assert.equal(job?.status, 'queued');
    const twice = await post(`/v1/training-runs/${runId}/resume`);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'RUN_NOT_RESUMABLE');
    assert.equal((await post(`/v1/training-runs/${nowhere}/cancel`)).body.code, 'RUN_NOT_FOUND');
  });

  it('streams progress, metrics and checkpoints, shows them, and asks a running run to stop', async () => {
    const claim = await claimJob(t.db.db, { workerId: 'test', kinds: [TRAINING_RUN_JOB], leaseMs: 60_000 });
    assert.ok(claim.job);
    await updateRun(t.db.db, runId, { status: 'running', started: true, progress: { step: 0, epoch: 0 } });
    const res = await t.app.request(`/v1/training-runs/${runId}/events`, { headers: t.auth(t.tokens.admin) });
    assert.equal(res.status, 200);
    const reading = readEvents(res, (e) => e === 'done' || e === 'failed' || e === 'cancelled');
    const pause = () => new Promise((r) => setTimeout(r, 80));
    await pause();
    await addMetrics(t.db.db, runId, [
      { kind: 'eval', step: 0, epoch: 0, loss: 3.1 },
      { kind: 'train', step: 1, epoch: 0, loss: 3.0, lossText: 0.02, lossMel: 2.98, lr: 5e-6 },
      { kind: 'train', step: 2, epoch: 0, loss: 2.8 },
    ]);
    await updateRun(t.db.db, runId, { progress: { step: 2, epoch: 0, loss: 2.8, eta_s: 600 } });
    await pause();
    const k = await insertCheckpoint(t.db.db, {
      name: 'first-e1',
      runId,
      epoch: 1,
      step: 2,
      trainLoss: 2.8,
      evalLoss: 2.9,
      status: 'ready',
      packagePath: 'runs/first/e1',
    });
    await addMetrics(t.db.db, runId, [{ kind: 'eval', step: 2, epoch: 1, loss: 2.9 }]);
    await pause();
    // The epoch's listening test is pre-screened by a job: its status and progress come on the stream.
    const screen = await enqueueJob(t.db.db, {
      kind: PRESCREEN_JOB,
      payload: { testId: '3f0e4a1c-0000-4000-8000-000000000001', runId, prescreen: null },
    });
    await pause();
    const screening = await claimJob(t.db.db, { workerId: 'screen', kinds: [PRESCREEN_JOB], leaseMs: 60_000 });
    assert.ok(screening.job);
    assert.equal(screening.job.id, screen.id);
    await heartbeatJob(t.db.db, screening.lease, 60_000, { stage: 'rendering', done: 3, total: 9, render_failed: 0 });
    await pause();

    const cancel = await post(`/v1/training-runs/${runId}/cancel`);
    assert.equal(cancel.status, 202);
    assert.equal(cancel.body.cancel, 'requested', 'a running job stops at its next report');
    assert.equal(cancel.body.status, 'running');
    assert.equal((await post(`/v1/training-runs/${runId}/resume`)).body.code, 'RUN_NOT_RESUMABLE');
    assert.ok(await finishRun(t.db.db, claim.lease, runId, 'cancelled'));
    const events = await reading;
    const names = events.map((e) => e.event);
    assert.deepEqual(
      names.filter((n) => n !== 'progress' && n !== 'metrics' && n !== 'prescreen'),
      ['checkpoint', 'cancelled'],
    );
    const screens = events.filter((e) => e.event === 'prescreen').map((e) => e.data);
    // A poll may fall between the claim and its first heartbeat: the job is then sent as running twice,
    // first without progress, then with it. The statuses seen, in order, are queued then running.
    const statuses = screens.map((d) => [d.job_id, d.status]);
    assert.deepEqual(
      statuses.filter((s, i) => i === 0 || s[1] !== statuses[i - 1]?.[1]),
      [
        [screen.id, 'queued'],
        [screen.id, 'running'],
      ],
    );
    const last = screens.at(-1);
    assert.deepEqual(last?.progress, { stage: 'rendering', done: 3, total: 9, render_failed: 0 });
    assert.equal(last?.test_id, '3f0e4a1c-0000-4000-8000-000000000001');
    const points = events
      .filter((e) => e.event === 'metrics')
      .flatMap((e) => e.data.points as Array<{ step: number; kind: string }>);
    assert.deepEqual(
      points.map((p) => `${p.kind}@${p.step}`),
      ['eval@0', 'train@1', 'train@2', 'eval@2'],
    );
    assert.ok(events.some((e) => e.event === 'progress' && e.data.step === 2 && e.data.eta_s === 600));
    assert.equal(events.find((e) => e.event === 'checkpoint')?.data.id, k.id);

    const run = await get(`/v1/training-runs/${runId}`);
    assert.equal(run.body.status, 'cancelled');
    assert.deepEqual(
      run.body.checkpoints.map((c: { id: string; epoch: number; step: number; eval_loss: number }) => [
        c.id,
        c.epoch,
        c.step,
        c.eval_loss,
      ]),
      [[k.id, 1, 2, 2.9]],
    );
    assert.ok(Math.abs(run.body.checkpoints[0].train_loss - 2.8) < 1e-6);
    assert.equal(run.body.metrics_summary.train_points, 2);
    assert.equal(run.body.metrics_summary.eval_points, 2);
    assert.equal(run.body.metrics_summary.best_eval.step, 2);
    const metrics = await get(`/v1/training-runs/${runId}/metrics`);
    assert.deepEqual(
      metrics.body.train.map((m: { step: number }) => m.step),
      [1, 2],
    );
    assert.ok(Math.abs(metrics.body.train[0].loss_mel - 2.98) < 1e-6);
    assert.deepEqual(
      metrics.body.eval.map((m: { step: number }) => m.step),
      [0, 2],
    );
    // Only what came after a given metric, for a page that already drew the rest.
    const later = await t.app.request(`/v1/training-runs/${runId}/events?after=${metrics.body.train[1].id}`, {
      headers: t.auth(t.tokens.admin),
    });
    const rest = await readEvents(later, (e) => e === 'cancelled');
    assert.deepEqual(
      rest
        .filter((e) => e.event === 'metrics')
        .flatMap((e) => (e.data.points as Array<{ step: number }>).map((p) => p.step)),
      [2],
    );
  });

  it('renders the run page with loss curves, checkpoints marked and playable', async () => {
    assert.equal((await t.request.get(`/training-runs/${runId}`)).status, 401);
    const page = await get(`/training-runs/${runId}`);
    assert.equal(page.status, 200);
    const html = page.text;
    assert.match(html, /<svg[^>]*aria-label="Loss per step"/);
    assert.match(html, /data-series="train loss" d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/, 'a train curve through 2 points');
    assert.match(html, /data-series="eval loss" d="M[\d.]+,[\d.]+L/);
    assert.equal((html.match(/class="marker"/g) ?? []).length, 1, 'the checkpoint marked on the curve');
    assert.equal((html.match(/<tr data-checkpoint=/g) ?? []).length, 1);
    assert.match(html, /class="play"/);
    const curves = /data-curves="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(curves);
    const fragment = await t.request.get(curves);
    assert.equal(fragment.status, 200, 'the signed curves URL needs no key');
    assert.match(fragment.text, /^<figure class="curves">/);
    const eventsUrl = /data-events="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(eventsUrl);
    const stream = await t.app.request(eventsUrl);
    assert.equal(stream.status, 200);
    await stream.body?.cancel();
    assert.equal((await t.request.get(`/training-runs/${nowhere}`).set(t.auth(t.tokens.admin))).status, 404);
  });

  it('a finished run says done at once on its event stream', async () => {
    await post(`/v1/training-runs/${runId}/resume`);
    const claim = await claimJob(t.db.db, { workerId: 'test', kinds: [TRAINING_RUN_JOB], leaseMs: 60_000 });
    assert.ok(claim.job);
    await updateRun(t.db.db, runId, { status: 'running' });
    assert.ok(await finishRun(t.db.db, claim.lease, runId, 'succeeded'));
    const res = await t.app.request(`/v1/training-runs/${runId}/events`, { headers: t.auth(t.tokens.admin) });
    const events = await readEvents(res, (e) => e === 'done');
    assert.equal(events.at(-1)?.event, 'done');
    assert.equal((await post(`/v1/training-runs/${runId}/resume`)).body.code, 'RUN_NOT_RESUMABLE');
  });
});
