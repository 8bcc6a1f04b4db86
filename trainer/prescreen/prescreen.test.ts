// The pre-screen's rule on stated scores, and the real scorer (bundled Whisper tiny.en, numpy)
// on a few planted faults made with espeak-ng and sox.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { BENCH_SENTENCES, makePlantedSets } from './planted.ts';
import { DEFAULT_PRESCREEN_POLICY, judgeCheckpoints, type PrescreenScores } from './rule.ts';
import { runPrescreen } from './run.ts';

// Whisper (CTranslate2) on one thread in the scorer's process (trainer/dataset/asr.py honours
// OMP_NUM_THREADS): where every core is busy, as in the suite, a second thread mostly waits for
// the first and spends CPU waiting. The verdicts do not depend on the thread count.
process.env.OMP_NUM_THREADS ??= '1';

const good: PrescreenScores = {
  n: 10,
  cer: 0.05,
  silent_share: 0,
  end_fault_share: 0,
  missing_final_share: 0.1,
  duration_ratio: 1.05,
  speaker_sim: 0.95,
};

const codes = (v: { reasons: { code: string }[] }) => v.reasons.map((r) => r.code).sort();

describe('the pre-screen rule', () => {
  test('each fault is named, a checkpoint like the references passes, references set the bar', () => {
    const verdicts = judgeCheckpoints(
      [
        { id: 'fine', scores: { ...good, cer: 0.12, speaker_sim: 0.93 } },
        { id: 'mute', scores: { ...good, silent_share: 0.8, cer: 0.9 } },
        { id: 'babbles', scores: { ...good, end_fault_share: 0.6 } },
        { id: 'cut', scores: { ...good, missing_final_share: 0.7 } },
        { id: 'slow', scores: { ...good, duration_ratio: 2 } },
        { id: 'rushed', scores: { ...good, duration_ratio: 0.5 } },
        { id: 'stranger', scores: { ...good, speaker_sim: 0.85 } },
        { id: 'garbled', scores: { ...good, cer: 0.6 } },
      ],
      [good, { ...good, cer: 0.3, speaker_sim: 0.9 }],
    );
    const by = Object.fromEntries(verdicts.map((v) => [v.id, codes(v)]));
    assert.deepEqual(by, {
      fine: [],
      mute: ['silent'],
      babbles: ['end_fault'],
      cut: ['missing_final'],
      slow: ['too_long'],
      rushed: ['too_short'],
      stranger: ['speaker'],
      garbled: ['unintelligible'],
    });
    assert.equal(verdicts.find((v) => v.id === 'fine')?.excluded, false);
    assert.ok(verdicts.filter((v) => v.id !== 'fine').every((v) => v.excluded));
  });

  test('relative to the references: a base that is slow too does not shut out a slow checkpoint', () => {
    const [v] = judgeCheckpoints(
      [{ id: 'slow', scores: { ...good, duration_ratio: 1.8 } }],
      [{ ...good, duration_ratio: 1.7 }],
    );
    assert.deepEqual(codes(v as never), []);
    const [w] = judgeCheckpoints(
      [{ id: 'slow', scores: { ...good, duration_ratio: 1.8 } }],
      [{ ...good, duration_ratio: 1.7 }],
      { relative_duration: 1.05 },
    );
    assert.deepEqual(codes(w as never), ['too_long']);
  });

  test('references Whisper cannot understand: only silence and the length of the sound are judged', () => {
    // Noise that runs to the model's length limit, about three times what the speaker needs.
    const noise = { ...good, cer: 0.95, end_fault_share: 0.2, duration_ratio: 1.1, sound_ratio: 3 };
    const verdicts = judgeCheckpoints(
      [
        { id: 'like-base', scores: { ...noise, cer: 1, end_fault_share: 1, duration_ratio: 3, sound_ratio: 3.2 } },
        { id: 'mute', scores: { ...noise, silent_share: 1, sound_ratio: null } },
        { id: 'clipped', scores: { ...noise, sound_ratio: 0.3 } },
        { id: 'endless', scores: { ...noise, sound_ratio: 4.5 } },
      ],
      [noise],
    );
    assert.deepEqual(
      verdicts.map((v) => [v.id, codes(v)]),
      [
        ['like-base', []],
        ['mute', ['silent']],
        ['clipped', ['too_short']],
        ['endless', ['too_long']],
      ],
    );
    assert.match(verdicts[2]?.reasons[0]?.message ?? '', /first sound to last \(references 3\.00×\)/);
    // Without a reference's length of sound there is nothing to be far off: the length abstains.
    const [alone] = judgeCheckpoints(
      [{ id: 'clipped', scores: { ...noise, sound_ratio: 0.3 } }],
      [{ ...noise, sound_ratio: null }],
    );
    assert.deepEqual(codes(alone as never), []);
  });

  test('top_k keeps the best survivors by combined score', () => {
    const verdicts = judgeCheckpoints(
      [
        { id: 'a', scores: { ...good, cer: 0.1 } },
        { id: 'b', scores: { ...good, cer: 0.02 } },
        { id: 'c', scores: { ...good, cer: 0.2 } },
      ],
      [good],
      { top_k: 1 },
    );
    assert.deepEqual(
      verdicts.filter((v) => !v.excluded).map((v) => v.id),
      ['b'],
    );
    assert.deepEqual(codes(verdicts.find((v) => v.id === 'c') as never), ['top_k']);
    assert.equal(DEFAULT_PRESCREEN_POLICY.top_k, 0);
  });
});

describe('the pre-screen scorer on planted faults', { skip: EMBEDDED_PASS_ONLY }, () => {
  test('noise appended and half tempo are flagged for their reasons, the clean set passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescreen-test-'));
    try {
      const { references, items } = makePlantedSets(dir, BENCH_SENTENCES.slice(2, 5), ['clean', 'noise', 'slow']);
      const report = await runPrescreen({ language: 'en', references, items });
      const { base, ...sets } = report.groups;
      assert.ok(base && base.n === 3, 'the base set is scored');
      const verdicts = judgeCheckpoints(
        Object.entries(sets).map(([id, scores]) => ({ id, scores })),
        [base],
      );
      const by = Object.fromEntries(verdicts.map((v) => [v.id, codes(v)]));
      assert.deepEqual(by, { clean: [], noise: ['end_fault'], slow: ['too_long'] });
      // The transcript is scored, not just the energy: the clean renderings are heard as their text.
      assert.ok((sets.clean?.cer ?? 1) < 0.2, `clean CER ${sets.clean?.cer}`);
      assert.ok(report.cpu_s.per_item > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
