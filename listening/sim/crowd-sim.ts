/**
 * Runs the simulated crowd under the adaptive and the fixed (uniform over all pairs) design
 * with the same seeds and prints what each cost and what it decided.
 *
 * Then a null crowd, where every checkpoint is exactly as good as the incumbent, measures how
 * often the rule promotes anyway despite adaptive sampling and a look after every round.
 *
 *   node listening/sim/crowd-sim.ts [runs=10]
 */
import { type CrowdResult, DEFAULT_CROWD, runCrowd } from './crowd.ts';

const runs = Number(process.argv[2] ?? 10);
const truth = DEFAULT_CROWD.truth;
const best = Object.entries(truth).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
console.log(`true log-strengths: ${JSON.stringify(truth)}; truly preferred: ${best}; incumbent: base`);
console.log(
  `cheaters: ${DEFAULT_CROWD.cheaterShare.random * 100}% random clickers, ${DEFAULT_CROWD.cheaterShare.alwaysLeft * 100}% always-left`,
);

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const summary: Record<string, CrowdResult[]> = { adaptive: [], fixed: [] };
for (let seed = 1; seed <= runs; seed++) {
  for (const design of ['adaptive', 'fixed'] as const) {
    const r = runCrowd({ ...DEFAULT_CROWD, seed, design });
    summary[design]?.push(r);
    const why = r.decision && !r.decision.promote ? r.decision.reason : '';
    console.log(
      `seed ${String(seed).padStart(2)} ${design.padEnd(8)} winner=${r.winner ?? `none (${why})`} answers=${r.answers} validVotes=${r.validVotes} rounds=${r.rounds}`,
    );
  }
}
for (const [design, results] of Object.entries(summary)) {
  const correct = results.filter((r) => r.winner === best).length;
  const flag = (k: 'honest' | 'random' | 'always-left') =>
    `${results.reduce((s, r) => s + r.raters[k].flagged, 0)}/${results.reduce((s, r) => s + r.raters[k].total, 0)}`;
  console.log(
    `${design}: correct winner ${correct}/${results.length}; mean answers ${mean(results.map((r) => r.answers)).toFixed(0)}; ` +
      `mean valid A/B votes ${mean(results.map((r) => r.validVotes)).toFixed(0)}; flagged honest ${flag('honest')}, random ${flag('random')}, always-left ${flag('always-left')}`,
  );
}
const a = mean((summary.adaptive ?? []).map((r) => r.answers));
const f = mean((summary.fixed ?? []).map((r) => r.answers));
console.log(
  `adaptive allocation used ${(100 * (1 - a / f)).toFixed(1)}% fewer answers than the fixed design (${a.toFixed(0)} vs ${f.toFixed(0)})`,
);

const nullTruth = Object.fromEntries(Object.keys(truth).map((k) => [k, 0]));
let falsePromotions = 0;
for (let seed = 1; seed <= runs; seed++) {
  const r = runCrowd({
    ...DEFAULT_CROWD,
    truth: nullTruth,
    seed: `null-${seed}`,
    design: 'adaptive',
    maxAnswers: 6000,
  });
  if (r.winner) falsePromotions++;
  const why = r.decision && !r.decision.promote ? r.decision.reason : '';
  console.log(
    `null seed ${String(seed).padStart(2)} winner=${r.winner ?? `none (${why})`} answers=${r.answers} rounds=${r.rounds}`,
  );
}
console.log(`null crowd (all equal): ${falsePromotions}/${runs} runs promoted a checkpoint`);
