import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRunListeningTest, startJobWorkers } from '../api/index.ts';
import { DATASET_BUILD_JOB, getRun, listStimuli, PRESCREEN_JOB } from '../db/index.ts';
import { createEngine } from '../inference/index.ts';
import type { Worker } from '../trainer/index.ts';
import { registerPackage } from '../voices/index.ts';
import { testApp } from './helpers/app.ts';
import { EMBEDDED_PASS_ONLY } from './helpers/db.ts';
import { buildTinyDataset, createTinyVoice, pollFor, readingWav, TINY_SPEECH, tinyJobDeps } from './helpers/e2e.ts';
import { binaryBody } from './helpers/speech.ts';
import { dataDirWithTinyModel } from './helpers/tiny.ts';
import { tinyFineTunedPackages } from './helpers/tiny-checkpoints.ts';

// The Python children on one thread (the dataset builder's and the scorer's Whisper, the exports'
// torch: both honour OMP_NUM_THREADS): where every core is busy, as in the suite, a second thread
// mostly waits for the first and spends CPU waiting. What is checked here does not depend on it.
process.env.OMP_NUM_THREADS ??= '1';

/**
 * The machines listen first, end to end on the tiny model: a dataset built by the real builder,
 * a training run for a voice, the run's epoch checkpoints exported by the project's exporter and
 * registered the way the training job registers them, one of them deliberately damaged (its GPT
 * ends every sentence at the first step), then the run's automatic listening test as the job
 * worker makes it when a run succeeds: rendered on the engine, pre-screened by the real scorer,
 * opened. The tiny model's random-weight noise is unintelligible to Whisper (the base's too), so
 * the rule cannot lean on a transcript: the damaged checkpoint is caught by what it sounds like
 * (nothing), the undamaged ones go to listeners. Runs on PGlite, and on Postgres in CI.
 */

// The pre-screen's database work (a queue job, stored scores) runs on PostgreSQL in the job's own
// test (api/prescreen-job.test.ts); this whole path runs once, in the embedded pass.
describe('pre-screening a run on the tiny model keeps its broken checkpoint out of the crowd test', {
  skip: EMBEDDED_PASS_ONLY,
}, () => {
  const engine = createEngine({ workers: 1 });
  const dirs = dataDirWithTinyModel('tiny');
  let t: Awaited<ReturnType<typeof testApp>>;
  let workers: Worker[] = [];
  const ids = { base: '', voice: '', dataset: '', run: '', test: '' };
  const epochs: { id: string; epoch: number; damaged: boolean }[] = [];
  const admin = () => t.auth(t.tokens.admin);
  const deps = () => tinyJobDeps(t, engine, dirs);

  before(async () => {
    t = await testApp({ engine, dataDir: dirs.dataDir, modelDir: dirs.modelDir });
    // The dataset builder and the pre-screen: the run's epochs are made below, without the trainer.
    workers = startJobWorkers({ ...deps(), kinds: [DATASET_BUILD_JOB, PRESCREEN_JOB], count: 1, pollMs: 100 });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t?.close();
    await engine.close();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  it('a voice, a dataset from a recording, and a run for the voice', async () => {
    const base = await t.request.post('/v1/checkpoints').set(admin()).send({ name: 'tiny base', package_path: 'tiny' });
    assert.ok([200, 201].includes(base.status), JSON.stringify(base.body));
    ids.base = base.body.id;
    ids.voice = (await createTinyVoice(t, 'june')).id;
    // Four sentences: the run's test renders every reference sentence for every checkpoint and
    // transcribes each rendering, and a few are enough to show silence and length.
    ids.dataset = (await buildTinyDataset(t, readingWav(TINY_SPEECH.slice(0, 4)))).id;
    const run = await t.request
      .post('/v1/training-runs')
      .set(admin())
      .send({
        dataset_id: ids.dataset,
        voice_id: ids.voice,
        name: 'june-1',
        options: {
          epochs: 3,
          device: 'cpu',
          listening_test: { trials_per_rater: { ab_naturalness: 12, ab_similarity: 2, mos: 2, similarity: 2 } },
        },
      });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    ids.run = run.body.id;
  });

  it("the run's epochs are exported and registered as its checkpoints; one of them has a damaged GPT", async () => {
    // Epoch 2's weights with the stop token's bias raised: what a diverged epoch can look like.
    const made = await tinyFineTunedPackages(join(dirs.modelDir, 'runs', ids.run), dirs.packageDir, [
      { name: 'epoch-1', seed: 21, scale: 0.05 },
      { name: 'epoch-2', seed: 22, scale: 0.1, damage: 'stop_at_once' },
      { name: 'epoch-3', seed: 23, scale: 0.15 },
    ]);
    for (const [i, dir] of made.entries()) {
      const epoch = i + 1;
      const { checkpoint, created } = await registerPackage(t.db.db, dir, {
        name: `june-1 · epoch ${epoch} · step ${epoch * 4}`,
        runId: ids.run,
        epoch,
        step: epoch * 4,
        trainLoss: null,
        evalLoss: null,
        trainingConfig: { epochs: 3 },
      });
      assert.ok(created);
      epochs.push({ id: checkpoint.id, epoch, damaged: epoch === 2 });
    }
    const listed = await t.request.get(`/v1/training-runs/${ids.run}`).set(admin());
    assert.deepEqual(
      (listed.body.checkpoints as { epoch: number }[]).map((c) => c.epoch).sort(),
      [1, 2, 3],
      'the run lists the damaged epoch like any other',
    );
    // The damage is real and needs no transcript to hear: the damaged checkpoint says (almost)
    // nothing, where the others speak for seconds.
    const durations: number[] = [];
    for (const c of epochs) {
      const r = await t.request
        .post('/v1/audio/speech')
        .set(t.auth(t.tokens.synth))
        .send({ model: c.id, voice: 'june', input: 'Please close the door.', response_format: 'pcm', seed: 5 })
        .buffer(true)
        .parse(binaryBody as never);
      assert.equal(r.status, 200, String(r.body));
      durations.push((r.body as Buffer).length / 2 / 24000);
    }
    assert.ok(durations[1]! < 0.1, `damaged epoch speaks ${durations[1]} s`);
    assert.ok(durations[0]! > 1 && durations[2]! > 1, `undamaged epochs speak ${durations}`);
  });

  it('an epoch whose weights are NaN never becomes a checkpoint: the exporter refuses it', async () => {
    const runDir = join(dirs.modelDir, 'runs', ids.run);
    await assert.rejects(
      tinyFineTunedPackages(runDir, dirs.packageDir, [
        { name: 'epoch-4', seed: 24, scale: 0.1, damage: 'nan_weights' },
      ]),
      // The exporter's check against PyTorch finds no finite error on some graph's output.
      /export of epoch-4 failed[\s\S]* err None/,
    );
    assert.ok(!existsSync(join(runDir, 'epoch-4', 'manifest.json')), 'no package is left to register');
  });

  it("the run's listening test is pre-screened: the damaged epoch never reaches listeners, the others do", async (ctx) => {
    const run = await getRun(t.db.db, ids.run);
    assert.ok(run);
    // What the training job does once a run succeeds: the test is made, and a pre-screen job
    // renders, screens and opens it.
    const testId = await createRunListeningTest(deps(), run);
    assert.ok(testId);
    ids.test = testId;
    const test = await pollFor(
      'the pre-screen job opened the test',
      async () => {
        const r = await t.request.get(`/v1/listening/tests/${ids.test}`).set(admin());
        assert.equal(r.status, 200);
        assert.notEqual(r.body.preparation?.status, 'failed', JSON.stringify(r.body.preparation));
        return r.body.preparation?.status === 'done' ? r : undefined;
      },
      600,
    );
    assert.equal(test.body.status, 'open', 'the test opened with the undamaged epochs');
    const conditions = test.body.conditions as { id: string; kind: string; checkpoint_id: string | null }[];
    const inTest = new Set(conditions.map((c) => c.checkpoint_id));
    const damaged = epochs.find((c) => c.damaged)!;
    assert.ok(!inTest.has(damaged.id), 'the damaged epoch is not a condition of the test');
    for (const c of epochs.filter((x) => !x.damaged)) assert.ok(inTest.has(c.id), `epoch ${c.epoch} is in the test`);
    assert.ok(inTest.has(ids.base) && conditions.some((c) => c.kind === 'real'));

    // The stored scores and verdicts (the API's view of the test).
    const record = test.body.config.prescreen as {
      error?: string;
      checkpoints: {
        condition_id: string;
        checkpoint_id: string;
        role: string;
        excluded: boolean;
        reasons: { code: string; message: string }[];
        scores: { n: number; silent_share: number; cer: number; sound_ratio: number | null } | null;
      }[];
    };
    assert.equal(record.error, undefined, `the pre-screen failed: ${record.error}`);
    const row = (id: string) => record.checkpoints.find((c) => c.checkpoint_id === id);
    for (const c of record.checkpoints)
      ctx.diagnostic(`${c.role} ${c.checkpoint_id}: ${JSON.stringify(c.scores)} ${JSON.stringify(c.reasons)}`);
    const bad = row(damaged.id);
    assert.ok(bad, 'the damaged epoch was scored');
    assert.equal(bad.excluded, true);
    assert.deepEqual(
      bad.reasons.map((r) => r.code),
      ['silent'],
    );
    assert.equal(bad.scores?.silent_share, 1);
    for (const c of epochs.filter((x) => !x.damaged)) {
      const r = row(c.id);
      assert.ok(r, `epoch ${c.epoch} was scored`);
      assert.equal(r.role, 'candidate');
      assert.equal(r.excluded, false, `epoch ${c.epoch}: ${JSON.stringify(r.reasons)}`);
      assert.equal(r.scores?.silent_share, 0);
      assert.ok((r.scores?.n ?? 0) > 0);
      // Their sound lasts about as long as the base's (the tiny model runs to its length limit),
      // which is why the length of the sound, judged against the base, does not shut them out.
      const ratio = (r.scores?.sound_ratio ?? 0) / (row(ids.base)?.scores?.sound_ratio ?? 1);
      assert.ok(ratio > 0.77 && ratio < 1.3, `epoch ${c.epoch}: sound ${ratio}× the base's`);
    }
    assert.equal(row(ids.base)?.role, 'base');
    // Whisper cannot hear the tiny model: the base's transcripts are wrong, which is why only
    // what needs no transcript is judged here.
    assert.ok((row(ids.base)?.scores?.cer ?? 0) > 0.5, JSON.stringify(row(ids.base)?.scores));

    // No stimulus of the damaged epoch is left for a listener to hear; every kept one has its own.
    const stimuli = await listStimuli(t.db.db, ids.test);
    assert.ok(!stimuli.some((s) => s.conditionId === bad.condition_id));
    for (const c of conditions)
      assert.ok(
        stimuli.some((s) => s.conditionId === c.id),
        `${c.kind} has stimuli`,
      );

    // The report shows every checkpoint's scores and why the damaged one was left out.
    const report = await t.request.get(`/v1/listening/tests/${ids.test}/report`).set(admin());
    assert.equal(report.status, 200);
    assert.match(report.text, /id="prescreen-scores"/);
    assert.equal(report.text.match(/<td>candidate<\/td>.*?to listeners<\/td>/g)?.length, 2);
    // The damaged epoch's row: every rendering silent, left out for it.
    assert.match(
      report.text,
      /epoch 2 · step 8[^<]*<\/th><td>candidate<\/td><td>[^<]*<\/td><td>1\.00<\/td>[^\n]*?<td>left out: 100 % of its renderings are silent<\/td>/,
    );
  });
});
