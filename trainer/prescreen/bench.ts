// The pre-screen on planted faults: espeak-ng speech of known text, edited into stimulus sets
// that imitate broken checkpoints (trainer/prescreen/planted.ts), scored by the pre-screen
// (Whisper, energy, duration, speaker embedding) and judged by its rule against the `base` set.
// Prints a confusion table (planted set × reasons flagged) and the cost per checkpoint.
//   node trainer/prescreen/bench.ts                       # 20 sentences, bundled Whisper tiny.en, CPU
//   node trainer/prescreen/bench.ts --sentences 8 --model PATH --device cuda
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_SENTENCES, EXPECTED_REASON, makePlantedSets, PLANTED_SETS } from './planted.ts';
import { judgeCheckpoints } from './rule.ts';
import { runPrescreen } from './run.ts';

const { values } = parseArgs({
  options: {
    sentences: { type: 'string', default: '20' },
    model: { type: 'string', default: 'tiny.en-bundled' },
    device: { type: 'string', default: 'cpu' },
  },
});

const REASONS = ['silent', 'unintelligible', 'end_fault', 'missing_final', 'too_long', 'too_short', 'speaker'];
const n = Math.max(2, Math.min(BENCH_SENTENCES.length, Number(values.sentences)));
const work = mkdtempSync(join(tmpdir(), 'prescreen-bench-'));
try {
  const t0 = performance.now();
  const { references, items } = makePlantedSets(work, BENCH_SENTENCES.slice(0, n));
  const genS = (performance.now() - t0) / 1000;
  const report = await runPrescreen({
    language: 'en',
    asr: { model: values.model, device: values.device },
    references,
    items,
  });
  const { base, ...sets } = report.groups;
  if (!base) throw new Error('the base set was not scored');
  const verdicts = judgeCheckpoints(
    Object.entries(sets).map(([id, scores]) => ({ id, scores })),
    [base],
  );
  console.log(
    `pre-screen on planted faults: ${n} sentences per set, ${report.asr}, speaker embedding ${report.speaker_embedding}`,
  );
  console.log(`speaker rate from the ${references.length} reference recordings: ${report.speaker_cps} characters/s\n`);
  const head = ['planted set', 'expected', ...REASONS, 'verdict'];
  const rows = [head];
  let right = 0;
  for (const set of PLANTED_SETS) {
    const v = verdicts.find((x) => x.id === set);
    const codes = new Set(v?.reasons.map((r) => r.code));
    const expected = EXPECTED_REASON[set];
    const ok = expected === null ? codes.size === 0 : codes.has(expected as never);
    if (ok) right++;
    rows.push([
      set,
      expected ?? 'pass',
      ...REASONS.map((r) => (codes.has(r as never) ? 'X' : '.')),
      ok ? 'right' : 'WRONG',
    ]);
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] as number)).join('  '));
  console.log(
    `\n${right}/${PLANTED_SETS.length} sets judged right (clean passes, each fault flagged for its reason)\n`,
  );
  console.log('scores per set (base is the reference):');
  for (const [id, s] of Object.entries(report.groups)) {
    console.log(
      `  ${id.padEnd(14)} cer ${s.cer?.toFixed(3)}  silent ${s.silent_share?.toFixed(2)}  end ${s.end_fault_share?.toFixed(2)}  ` +
        `final ${s.missing_final_share?.toFixed(2)}  duration ${s.duration_ratio?.toFixed(2) ?? '–'}×  speaker ${s.speaker_sim?.toFixed(3) ?? '–'}`,
    );
  }
  for (const v of verdicts) for (const r of v.reasons) console.log(`  ${v.id}: ${r.code}: ${r.message}`);
  // The same scores judged as when the transcriber cannot hear the references (the tiny test
  // model, a language the Whisper model lacks): only silence and the length of the sound count.
  const blind = judgeCheckpoints(
    Object.entries(sets).map(([id, scores]) => ({ id, scores })),
    [base],
    { reference_cer_max: 0 },
  );
  console.log('\nwithout a transcript (reference_cer_max 0): what the sound alone flags');
  for (const set of PLANTED_SETS) {
    const v = blind.find((x) => x.id === set);
    const s = sets[set];
    console.log(
      `  ${set.padEnd(14)} sound ${s?.sound_ratio?.toFixed(2) ?? '–'}× (base ${base.sound_ratio?.toFixed(2) ?? '–'}×)  ` +
        `${v?.reasons.map((r) => r.code).join(', ') || 'pass'}`,
    );
  }
  const perItem = report.cpu_s.per_item;
  console.log(
    `\ncost: ${perItem.toFixed(3)} CPU s per rendering → ${(perItem * 20).toFixed(1)} CPU s per checkpoint for a 20-sentence test ` +
      `(+ ${report.cpu_s.model_load.toFixed(1)} CPU s loading Whisper once per pre-screen); ` +
      `${items.length} renderings took ${report.wall_s.toFixed(1)} s wall on this machine; making the sets took ${genS.toFixed(1)} s`,
  );
  process.exitCode = right === PLANTED_SETS.length ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
