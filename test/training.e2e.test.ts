import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startJobWorkers } from '../api/index.ts';
import { createEngine } from '../inference/index.ts';
import type { Worker } from '../trainer/index.ts';
import { testApp } from './helpers/app.ts';
import { CROWD_WAVES, type Participation, stimulusOracle, takePart } from './helpers/crowd.ts';
import { POSTGRES_PASS_ONLY } from './helpers/db.ts';
import {
  buildTinyDataset,
  createTinyVoice,
  pollFor,
  readingWav,
  tinyJobDeps,
  tinyTrainerWeights,
} from './helpers/e2e.ts';
import { binaryBody } from './helpers/speech.ts';
import { dataDirWithTinyModel } from './helpers/tiny.ts';

/**
 * The studio's whole journey on the tiny model, through the HTTP API and the real job worker:
 * a speaker's recording (espeak-ng) → a dataset built by the Python builder with the bundled
 * small Whisper → a fine-tuning run of the tiny model's GPT by the Python trainer → each epoch's
 * checkpoint exported, registered and speaking through /v1/audio/speech → a blind listening test
 * created, rendered and opened by the studio itself → a scripted crowd → automatic promotion →
 * the voice speaking with the promoted checkpoint. Runs against PostgreSQL (CI's second pass); on
 * PGlite the browser journey (test/browser/journey.test.ts) walks the same path.
 */

describe('recordings → dataset → fine-tuning run → listening test → promoted voice (tiny model)', {
  skip: POSTGRES_PASS_ONLY,
}, () => {
  const engine = createEngine({ workers: 1 });
  const dirs = dataDirWithTinyModel('tiny');
  const scratch = mkdtempSync(join(tmpdir(), 'journey-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  let workers: Worker[] = [];
  const ids = { base: '', voice: '', dataset: '', run: '', test: '' };
  let checkpoints: Array<{ id: string; epoch: number; step: number; eval_loss: number | null }> = [];
  const admin = () => t.auth(t.tokens.admin);
  const speech = (body: Record<string, unknown>) =>
    t.request
      .post('/v1/audio/speech')
      .set(t.auth(t.tokens.synth))
      .send(body)
      .buffer(true)
      .parse(binaryBody as never);

  before(async () => {
    await tinyTrainerWeights(dirs);
    t = await testApp({ engine, dataDir: dirs.dataDir, modelDir: dirs.modelDir, eventsPollMs: 100 });
    workers = startJobWorkers({ ...tinyJobDeps(t, engine, dirs), count: 1, pollMs: 100 });
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await t?.close();
    await engine.close();
    rmSync(dirs.dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('registers the base model and creates a voice', async () => {
    const base = await t.request.post('/v1/checkpoints').set(admin()).send({ name: 'tiny base', package_path: 'tiny' });
    assert.equal(base.status, 201, JSON.stringify(base.body));
    ids.base = base.body.id;
    ids.voice = (await createTinyVoice(t, 'june')).id;
  });

  it('builds a dataset from the recording with the real builder and the bundled Whisper', async () => {
    const { id, ready } = await buildTinyDataset(t, readingWav());
    ids.dataset = id;
    const clips = await t.request.get(`/v1/datasets/${ids.dataset}/clips?status=kept`).set(admin());
    assert.equal(clips.status, 200);
    const kept = clips.body.data as Array<{ duration_s: number; split: string }>;
    assert.ok(kept.length >= 4, `${kept.length} clips kept: ${JSON.stringify(ready.report ?? ready)}`);
    for (const c of kept) assert.ok(c.duration_s >= 1 && c.duration_s <= 2.6, JSON.stringify(c));
    assert.ok(kept.some((c) => c.split === 'eval') && kept.some((c) => c.split === 'train'));
  });

  it('fine-tunes the tiny GPT: every epoch is a registered checkpoint, and the eval loss falls', async () => {
    const res = await t.request
      .post('/v1/training-runs')
      .set(admin())
      .send({
        dataset_id: ids.dataset,
        voice_id: ids.voice,
        name: 'june-1',
        options: {
          epochs: 2,
          batch_size: 2,
          grad_accum: 1,
          lr: 1e-3,
          seed: 7,
          device: 'cpu',
          listening_test: {
            auto_promote: true,
            // Listeners can start on epoch 1 while epoch 2 trains.
            every_epochs: 1,
            trials_per_rater: { ab_naturalness: 20, ab_similarity: 4, mos: 2, similarity: 2 },
          },
        },
      });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    ids.run = res.body.id;
    const run = await pollFor(
      'run succeeded',
      async () => {
        const r = await t.request.get(`/v1/training-runs/${ids.run}`).set(admin());
        assert.ok(!['failed', 'cancelled'].includes(r.body.status), JSON.stringify(r.body));
        return r.body.status === 'succeeded' && r.body.listening_test_id ? r.body : undefined;
      },
      600,
    );
    checkpoints = [...run.checkpoints].sort((a, b) => a.step - b.step);
    assert.deepEqual(
      checkpoints.map((c) => c.epoch),
      [1, 2],
      'one checkpoint per epoch',
    );
    const metrics = await t.request.get(`/v1/training-runs/${ids.run}/metrics`).set(admin());
    const evals = (metrics.body.eval as Array<{ step: number; loss: number }>).sort((a, b) => a.step - b.step);
    assert.ok(evals.length >= 2, JSON.stringify(metrics.body));
    assert.ok((evals.at(-1)?.loss ?? 0) < (evals[0]?.loss ?? 0), `eval loss falls: ${JSON.stringify(evals)}`);
    ids.test = run.listening_test_id;
  });

  it('opened a test of the first epoch while training went on, and the final test of every epoch', async () => {
    const interim = await pollFor(
      'interim test open',
      async () => {
        const r = await t.request.get(`/v1/listening/tests?voice_id=${ids.voice}`).set(admin());
        const tests = r.body.data as Array<{
          id: string;
          status: string;
          conditions: { checkpoint_id: string | null }[];
        }>;
        assert.equal(tests.length, 2, JSON.stringify(tests.map((x) => x.id)));
        const other = tests.find((x) => x.id !== ids.test);
        return other?.status === 'open' ? other : undefined;
      },
      300,
    );
    const inIt = (test: { conditions: { checkpoint_id: string | null }[] }, id: string) =>
      test.conditions.some((c) => c.checkpoint_id === id);
    assert.ok(inIt(interim, checkpoints[0]!.id), 'epoch 1 is in the interim test');
    assert.ok(!inIt(interim, checkpoints[1]!.id), 'epoch 2 did not exist yet');
  });

  it('each checkpoint speaks through /v1/audio/speech, differently from the base', async () => {
    const input = 'Every checkpoint can be heard.';
    assert.equal(checkpoints.length, 2);
    const base = await speech({ model: ids.base, voice: 'june', input, response_format: 'pcm', seed: 5 });
    assert.equal(base.status, 200);
    for (const c of checkpoints) {
      const r = await speech({ model: c.id, voice: 'june', input, response_format: 'pcm', seed: 5 });
      assert.equal(r.status, 200, String(r.body));
      assert.equal(r.headers['x-checkpoint-id'], c.id);
      assert.ok(r.body.length > 1000);
      assert.notDeepEqual(r.body, base.body, `checkpoint of epoch ${c.epoch} sounds different from the base`);
    }
  });

  it('the run put its checkpoints, the base and the real recordings in an open blind test; a crowd promotes the last epoch', async (ctx) => {
    // The worker renders every stimulus on the engine, then opens the test.
    const test = await pollFor(
      'listening test open',
      async () => {
        const r = await t.request.get(`/v1/listening/tests/${ids.test}`).set(admin());
        assert.equal(r.status, 200);
        return r.body.status === 'open' ? r : undefined;
      },
      300,
    );
    const conditionOf = new Map<string | null, string>();
    for (const c of test.body.conditions as Array<{ id: string; kind: string; checkpoint_id: string | null }>) {
      conditionOf.set(c.kind === 'checkpoint' || c.kind === 'base' ? c.checkpoint_id : c.kind, c.id);
    }
    for (const c of checkpoints) assert.ok(conditionOf.has(c.id), `epoch ${c.epoch} is in the test`);
    assert.ok(conditionOf.has(ids.base) && conditionOf.has('real'));
    // The machines listened first: every checkpoint was scored before the test opened. The tiny
    // model's noise is unintelligible to Whisper, the base's too, so the rule abstains and none is out.
    const report = await t.request.get(`/v1/listening/tests/${ids.test}/report`).set(admin());
    assert.equal(report.status, 200);
    assert.match(report.text, /id="prescreen-scores"/);
    assert.equal(report.text.match(/<td>candidate<\/td>.*?to listeners<\/td>/g)?.length, checkpoints.length);
    assert.match(report.text, /<td>base<\/td>/);
    const last = checkpoints.at(-1)!;
    // Honest listeners hear the real speaker best, then the last epoch, then the first, then the base.
    const rank: Record<string, number> = {
      [conditionOf.get('real')!]: 4,
      [conditionOf.get(last.id)!]: 3,
      [conditionOf.get(checkpoints[0]!.id)!]: 2,
      [conditionOf.get(ids.base)!]: 1,
    };
    const oracle = await stimulusOracle(t.db.db, ids.test);
    ctx.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const raters: Participation[] = [];
    let index = 0;
    for (const wave of CROWD_WAVES) {
      for (const listener of wave) {
        raters.push(
          await takePart(t.request, ctx, { invite: test.body.invite_url, oracle, rank, listener, index: index++ }),
        );
      }
    }
    ctx.mock.timers.reset();
    const results = await t.request.get(`/v1/listening/tests/${ids.test}/results`).set(admin());
    assert.equal(results.body.decision.promote, true, JSON.stringify(results.body.decision));
    assert.equal(results.body.decision.winner, conditionOf.get(last.id));
    const closed = await t.request.post(`/v1/listening/tests/${ids.test}/close`).set(admin());
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.promotion?.to_checkpoint_id, last.id);
    assert.equal(closed.body.promotion?.actor, 'auto');
  });

  it('the voice now speaks with the promoted checkpoint', async () => {
    const last = checkpoints.at(-1)!;
    const voice = await t.request.get(`/v1/voices/${ids.voice}`).set(admin());
    assert.equal(voice.body.checkpoint_id, last.id);
    const input = 'The promoted checkpoint speaks.';
    const viaVoice = await speech({ model: 'xtts-v2', voice: 'june', input, response_format: 'pcm', seed: 42 });
    assert.equal(viaVoice.status, 200);
    assert.equal(viaVoice.headers['x-checkpoint-id'], last.id);
    const direct = await speech({ model: last.id, voice: 'june', input, response_format: 'pcm', seed: 42 });
    assert.deepEqual(viaVoice.body, direct.body);
    writeFileSync(join(scratch, 'promoted.pcm'), viaVoice.body);
  });
});
