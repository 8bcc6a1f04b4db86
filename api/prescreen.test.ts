// A listening test's pre-screen through the database: rendered stimuli (planted espeak-ng audio,
// one checkpoint at half tempo) are scored by the real scorer, the broken checkpoint's condition
// leaves the draft test, the scores stay on the test, and the report shows them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { getListeningTest, listConditions, listStimuli } from '../db/index.ts';
import { EngineError } from '../inference/index.ts';
import { computeResults, memoryAudioStore, renderSome, resultsPage } from '../listening/index.ts';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { prescreenAsr, prescreenTest, renderScreened } from './prescreen.ts';
import { draftTest, plantedCheckpoints, SENTENCES } from './prescreen-test-fixtures.ts';

// Whisper (CTranslate2) on one thread in the scorer's process (trainer/dataset/asr.py honours
// OMP_NUM_THREADS): where every core is busy, as in the suite, a second thread mostly waits for
// the first and spends CPU waiting. The verdicts do not depend on the thread count.
process.env.OMP_NUM_THREADS ??= '1';

describe('pre-screening a listening test before it opens', () => {
  let t: TestDb;
  let dir = '';
  before(async () => {
    t = await openTestDb();
    dir = mkdtempSync(join(tmpdir(), 'prescreen-api-'));
  });
  after(async () => {
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a checkpoint that speaks at half tempo is left out with its reason; the others stay', async () => {
    const db = t.db;
    const planted = await plantedCheckpoints(db, dir, 'june', ['clean', 'slow']);
    const {
      base,
      candidates: [good, slow],
    } = planted;
    const audio = memoryAudioStore();
    const deps = { db, audio, renderStimulus: planted.render };
    const testId = await draftTest(deps, planted);
    while ((await renderSome(deps, testId, 8)).remaining > 0);

    const outcome = await prescreenTest({ db, audio, logger: pino({ level: 'silent' }) }, testId, {
      language: 'en',
      asr: { model: 'tiny.en-bundled', device: 'cpu' },
      currentCheckpointId: null,
    });
    assert.deepEqual(outcome, { kept: 1, excluded: 1 });
    const left = await listConditions(db, testId);
    assert.ok(left.some((c) => c.checkpointId === good.id));
    assert.ok(left.some((c) => c.checkpointId === base.id));
    assert.ok(!left.some((c) => c.checkpointId === slow.id), 'the slow checkpoint is out of the crowd test');

    const stored = await getListeningTest(db, testId);
    const record = stored?.config.prescreen as {
      checkpoints: { checkpoint_id: string; role: string; excluded: boolean; reasons: { code: string }[] }[];
    };
    const byId = new Map(record.checkpoints.map((c) => [c.checkpoint_id, c]));
    assert.equal(byId.get(base.id)?.role, 'base');
    assert.equal(byId.get(good.id)?.excluded, false);
    assert.deepEqual(
      byId.get(slow.id)?.reasons.map((r) => r.code),
      ['too_long'],
    );

    const page = String(await resultsPage(await computeResults(db, stored as NonNullable<typeof stored>)));
    assert.match(page, /id="prescreen-scores"/);
    assert.match(page, /run-e2 \(step 20\)<\/th><td>candidate<\/td>.*left out: [\d.]+× the speaker/);
    assert.match(page, /run-e1 \(step 10\)<\/th><td>candidate<\/td>.*to listeners/);
  });

  test('a candidate whose output the engine refuses leaves the draft instead of holding the test back', async () => {
    const db = t.db;
    // Both candidates speak clean; the second one's renderings the engine refuses.
    const planted = await plantedCheckpoints(db, dir, 'ada', ['clean', 'clean']);
    const {
      base,
      candidates: [good, nan],
    } = planted;
    const audio = memoryAudioStore();
    const refuse = new Set([nan.id]);
    const renderStimulus = async (c: { id: string }, text: string) => {
      if (refuse.has(c.id)) throw new EngineError('OUTPUT_INVALID', 'the model produced non-finite audio');
      return planted.render(c, text);
    };
    const deps = { db, audio, renderStimulus };
    const draft = () => draftTest(deps, planted);

    const testId = await draft();
    const failures = await renderScreened(deps, testId, null);
    assert.deepEqual(
      failures.map((f) => [f.checkpointId, f.message]),
      [[nan.id, 'the model produced non-finite audio']],
    );
    const left = await listConditions(db, testId);
    assert.ok(!left.some((c) => c.checkpointId === nan.id), 'the refused checkpoint is out of the crowd test');
    assert.ok(left.some((c) => c.checkpointId === good.id) && left.some((c) => c.checkpointId === base.id));
    const stimuli = await listStimuli(db, testId);
    for (const c of left.filter((x) => x.kind === 'checkpoint' || x.kind === 'base')) {
      assert.equal(stimuli.filter((x) => x.conditionId === c.id).length, SENTENCES.length, `${c.label} is rendered`);
    }

    const logger = pino({ level: 'silent' });
    const settings = { language: 'en', asr: { model: 'tiny.en-bundled', device: 'cpu' }, currentCheckpointId: null };
    const outcome = await prescreenTest({ db, audio, logger }, testId, settings, failures);
    assert.deepEqual(outcome, { kept: 1, excluded: 1 });
    const stored = await getListeningTest(db, testId);
    const record = stored?.config.prescreen as {
      checkpoints: { checkpoint_id: string; excluded: boolean; reasons: { code: string }[] }[];
    };
    const row = record.checkpoints.find((c) => c.checkpoint_id === nan.id);
    assert.equal(row?.excluded, true);
    assert.deepEqual(
      row?.reasons.map((r) => r.code),
      ['render_failed'],
    );
    const page = String(await resultsPage(await computeResults(db, stored as NonNullable<typeof stored>)));
    assert.match(
      page,
      /run-e2 \(step 20\)<\/th><td>candidate<\/td>.*left out: the engine refused its rendering: the model produced non-finite audio/,
    );
    assert.match(page, /run-e1 \(step 10\)<\/th><td>candidate<\/td>.*to listeners/);

    // A screen that cannot run still names what the engine refused.
    const failed = await prescreenTest(
      { db, audio, logger },
      testId,
      { ...settings, asr: { backend: 'openai' } },
      failures,
    );
    assert.equal(failed.excluded, 1);
    assert.ok(failed.error);
    const again = await getListeningTest(db, testId);
    const errorPage = String(await resultsPage(await computeResults(db, again as NonNullable<typeof again>)));
    assert.match(errorPage, /could not run/);
    assert.match(errorPage, /<li>run-e2 \(step 20\): left out: the engine refused its rendering/);

    // Anything else, and a refusal for a reference, stops rendering as before.
    refuse.delete(nan.id);
    refuse.add(base.id);
    await assert.rejects(renderScreened(deps, await draft(), null), { code: 'OUTPUT_INVALID' });
    refuse.clear();
    const other = { ...deps, renderStimulus: async () => Promise.reject(new Error('the engine is gone')) };
    await assert.rejects(renderScreened(other, await draft(), null), /the engine is gone/);
  });
});

test("a run's pre-screen takes the dataset's transcription model and decodes greedily unless the run says otherwise", () => {
  // What a stored dataset's options hold: every field, the beam included (5 when not chosen).
  const dataset = {
    backend: 'faster-whisper',
    model: 'tiny.en-bundled',
    device: 'cpu',
    compute_type: 'default',
    beam_size: 5,
    batch_size: 0,
  };
  const asr = prescreenAsr(dataset, undefined);
  assert.deepEqual(asr, {
    backend: 'faster-whisper',
    model: 'tiny.en-bundled',
    device: 'auto',
    compute_type: 'default',
    batch_size: 0,
  });
  assert.equal('beam_size' in asr, false, "the pre-screen's own default (greedy) applies");
  assert.deepEqual(prescreenAsr(dataset, { beam_size: 3, device: 'cpu' }), {
    ...asr,
    beam_size: 3,
    device: 'cpu',
  });
  assert.deepEqual(prescreenAsr(undefined, undefined), { model: 'tiny.en-bundled', device: 'auto' });
});
