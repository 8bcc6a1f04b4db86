// A listening test's pre-screen through the database: rendered stimuli (planted espeak-ng audio,
// one checkpoint at half tempo) are scored by the real scorer, the broken checkpoint's condition
// leaves the draft test, the scores stay on the test, and the report shows them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { getListeningTest, insertCheckpoint, insertVoice, listConditions } from '../db/index.ts';
import {
  computeResults,
  createTest,
  memoryAudioStore,
  putRecording,
  renderSome,
  resultsPage,
} from '../listening/index.ts';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { makePlantedSets } from '../trainer/index.ts';
import { prescreenTest } from './prescreen.ts';

const SENTENCES = [
  'The garden was quiet after the rain had stopped.',
  'She opened the window and listened to the birds outside.',
  'Nobody knew where the old map had come from.',
];

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
    const { references, items } = makePlantedSets(dir, SENTENCES, ['clean', 'slow']);
    const { voice } = await insertVoice(db, { name: 'june', language: 'en' }, []);
    const base = await insertCheckpoint(db, { name: 'base', kind: 'base', status: 'ready', packagePath: 'b' });
    const good = await insertCheckpoint(db, { name: 'run-e1', status: 'ready', packagePath: 'g', step: 10 });
    const slow = await insertCheckpoint(db, { name: 'run-e2', status: 'ready', packagePath: 's', step: 20 });
    const setOf = new Map([
      [base.id, 'base'],
      [good.id, 'clean'],
      [slow.id, 'slow'],
    ]);
    const audio = memoryAudioStore();
    const deps = {
      db,
      audio,
      renderStimulus: async (c: { id: string }, text: string) => {
        const item = items.find((i) => i.group === setOf.get(c.id) && i.text === text);
        assert.ok(item, `a planted rendering for ${c.id}`);
        return new Uint8Array(readFileSync(item.path));
      },
    };
    const { test: created } = await createTest(db, {
      voiceId: voice.id,
      name: 'run: checkpoints by ear',
      checkpointIds: [good.id, slow.id],
      baseCheckpointId: base.id,
      sentences: SENTENCES.map((text) => ({ text })),
      trialsPerRater: { ab_naturalness: 4 },
      goldPerRater: 0,
      trapPerRater: 0,
      autoPromote: false,
    });
    for (const [i, r] of references.entries()) await putRecording(deps, created.id, i, readFileSync(r.path));
    while ((await renderSome(deps, created.id, 8)).remaining > 0);

    const outcome = await prescreenTest({ db, audio, logger: pino({ level: 'silent' }) }, created.id, {
      language: 'en',
      asr: { model: 'tiny.en-bundled', device: 'cpu' },
      currentCheckpointId: null,
    });
    assert.deepEqual(outcome, { kept: 1, excluded: 1 });
    const left = await listConditions(db, created.id);
    assert.ok(left.some((c) => c.checkpointId === good.id));
    assert.ok(left.some((c) => c.checkpointId === base.id));
    assert.ok(!left.some((c) => c.checkpointId === slow.id), 'the slow checkpoint is out of the crowd test');

    const stored = await getListeningTest(db, created.id);
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
});
