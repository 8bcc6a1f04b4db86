/**
 * `npm run sim:listening [-- --runs 200]`: the simulated crowd (crowd.ts) against the production
 * rule, allocation and quality control, each scenario over `runs` simulated tests, printed as a
 * table with 95 % Wilson intervals on every rate:
 *
 * - null: every checkpoint exactly as good and as similar as the incumbent, raters heterogeneous,
 *   20 % cheaters of four kinds; the rule looks after every round of four raters.
 * - better: one checkpoint clearly more natural, similarity equal; adaptive allocation against
 *   the fixed even design, raters and answers to the decision.
 * - less similar: that checkpoint more natural but less like the speaker beyond the margin.
 * - coverage: 30 honest, heterogeneous raters, one look; how often the nominal 95 % intervals
 *   (preference share against the incumbent, MOS, similarity rating) contain the crowd truth.
 * - rater quality: share of each kind of rater flagged, over the null scenario's crowds.
 * - speed: Bradley–Terry fit and rater bootstrap (1,000 replicates) at 10,000 votes, and the
 *   whole results computation and page at that size.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { resultsPage } from '../report/page.ts';
import { evaluateVotes } from '../service/results.ts';
import { bootstrapBradleyTerry } from '../stats/bootstrap.ts';
import { fitBradleyTerry, tallyPreferences } from '../stats/bradley-terry.ts';
import { type CrowdConfig, type CrowdResult, crowdTruth, type ItemTruth, RATER_KINDS, runCrowd } from './crowd.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '200' }, 'speed-only': { type: 'boolean', default: false } },
});
// --speed-only: just the timings at 10,000 votes (the scenarios take minutes).
const runs = values['speed-only'] ? 0 : Number(values.runs);

/** Wilson score interval for k successes in n trials. */
function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rate = (k: number, n: number) => {
  const [lo, hi] = wilson(k, n);
  return `${k}/${n} = ${pct(k / n)} [${pct(lo)}, ${pct(hi)}]`;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

const item = (naturalness: number, likeness = 0): ItemTruth => ({
  naturalness,
  likeness,
  mos: 3.2 + 0.8 * naturalness,
  similarity: 3.4 + 0.6 * likeness,
});
const NULL_TRUTH = Object.fromEntries(['base', 'c1', 'c2', 'c3', 'c4', 'c5'].map((k) => [k, item(0)]));
const BETTER_TRUTH = { base: item(0), c1: item(0.1), c2: item(0.3), c3: item(0.9), c4: item(-0.3), c5: item(0.2) };
const LESS_SIMILAR_TRUTH = { ...NULL_TRUTH, c3: item(0.9, -1) };
const CHEATERS = { random: 0.05, 'always-left': 0.05, 'gold-passer': 0.05, 'straight-liner': 0.05 } as const;

const base: Omit<CrowdConfig, 'seed' | 'truth' | 'design'> = {
  ratersPerRound: 4,
  cheaters: CHEATERS,
  maxRaters: 160,
};

function scenario(name: string, config: Omit<CrowdConfig, 'seed'>): CrowdResult[] {
  const t0 = performance.now();
  const out: CrowdResult[] = [];
  for (let i = 0; i < runs; i++) out.push(runCrowd({ ...config, seed: `${name}/${i}` }));
  console.error(`  ${name}: ${runs} tests in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

const rows: string[][] = [];
const row = (...cells: string[]) => rows.push(cells);

if (runs > 0) {
  console.error('simulating…');
  const nullRuns = scenario('null', { ...base, truth: NULL_TRUTH, design: 'adaptive' });
  const promotedNull = nullRuns.filter((r) => r.winner).length;
  row('null (all equal), 20 % cheaters', 'false promotions', rate(promotedNull, runs), '≤ 1 %');
  row(
    '',
    'settled as futile / undecided at 160 raters',
    `${nullRuns.filter((r) => r.reason === 'futile').length} / ${nullRuns.filter((r) => !r.settled).length}`,
    '',
  );

  const better = scenario('better', { ...base, truth: BETTER_TRUTH, design: 'adaptive' });
  const fixed = scenario('better-fixed', { ...base, truth: BETTER_TRUTH, design: 'fixed' });
  for (const [label, results] of [
    ['adaptive', better],
    ['fixed (even) design', fixed],
  ] as const) {
    const decided = results.filter((r) => r.winner);
    row(
      `better (c3 +0.9 logit, similarity equal), ${label}`,
      'best (c3) promoted',
      rate(results.filter((r) => r.winner === 'c3').length, runs),
      label === 'adaptive' ? '≥ 95 %' : '',
    );
    row(
      '',
      'median raters / answers to decision',
      `${median(decided.map((r) => r.raters))} / ${median(decided.map((r) => r.answers))}`,
      '',
    );
  }

  const lessSimilar = scenario('less-similar', { ...base, truth: LESS_SIMILAR_TRUTH, design: 'adaptive' });
  row(
    'c3 more natural (+0.9) but less similar (−1.0 logit)',
    'any promotion',
    rate(lessSimilar.filter((r) => r.winner).length, runs),
    '≤ 1 %',
  );

  // Coverage: one look after 30 honest raters, even design.
  const coverageRuns = scenario('coverage', {
    truth: BETTER_TRUTH,
    design: 'fixed',
    ratersPerRound: 30,
    cheaters: {},
    maxRaters: 30,
    lookOnce: true,
  });
  const truth = crowdTruth(BETTER_TRUTH);
  const candidates = Object.keys(BETTER_TRUTH).filter((k) => k !== 'base');
  const shareTruth = new Map(candidates.map((c) => [c, truth.share(c, 'base')]));
  const items = [...Object.keys(BETTER_TRUTH), 'real'];
  const mosTruth = new Map(items.map((i) => [i, truth.rating(i, 'mos')]));
  const simTruth = new Map(items.map((i) => [i, truth.rating(i, 'similarity')]));
  const cover = { share: { hit: 0, n: 0 }, mos: { hit: 0, n: 0 }, similarity: { hit: 0, n: 0 } };
  const within = (ci: { low: number; high: number }, v: number) => ci.low <= v && v <= ci.high;
  for (const r of coverageRuns) {
    for (const v of r.evaluation.decision?.audit.candidates ?? []) {
      cover.share.n++;
      if (within(v.naturalness.share.ci, shareTruth.get(v.item) as number)) cover.share.hit++;
    }
    for (const rating of r.evaluation.naturalness.ratings) {
      if (rating.mos.raters >= 2) {
        cover.mos.n++;
        if (within(rating.mos.ci, mosTruth.get(rating.item) as number)) cover.mos.hit++;
      }
      if (rating.similarity.raters >= 2 && simTruth.has(rating.item)) {
        cover.similarity.n++;
        if (within(rating.similarity.ci, simTruth.get(rating.item) as number)) cover.similarity.hit++;
      }
    }
  }
  for (const [name, { hit, n }] of Object.entries(cover)) {
    row(`coverage, 30 heterogeneous raters`, `nominal 95 % ${name} interval`, rate(hit, n), '93–97 %');
  }

  for (const k of RATER_KINDS) {
    let f = 0;
    let n = 0;
    for (const r of [...nullRuns, ...better]) {
      f += r.flags[k].flagged;
      n += r.flags[k].total;
    }
    row(
      'rater quality (null + better crowds)',
      `${k} raters flagged`,
      rate(f, n),
      k === 'honest' ? '≤ 5 %' : k === 'random' ? '≥ 95 %' : '',
    );
  }
}

// Speed at 10,000 A/B votes: 520 raters × 20 naturalness trials (a few are left out as too
// fast or flagged), plus their checks.
const big = runCrowd({
  seed: 'speed',
  truth: BETTER_TRUTH,
  design: 'fixed',
  ratersPerRound: 520,
  cheaters: {},
  maxRaters: 520,
  lookOnce: true,
  trialsPerRater: { ab_naturalness: 20, ab_similarity: 0, mos: 0, similarity: 0 },
});
const prefs = big.evaluation.naturalness.valid.preferences.slice(0, 10_000);
let t = performance.now();
const fit = fitBradleyTerry(tallyPreferences(prefs));
const fitMs = performance.now() - t;
t = performance.now();
bootstrapBradleyTerry(prefs, [], { replicates: 1000, unit: 'rater', seed: 'speed' });
const bootMs = performance.now() - t;
t = performance.now();
const evaluation = evaluateVotes(big.records, {
  conditions: big.conditions,
  config: big.config,
  incumbent: 'base',
  similarityMeasured: true,
  replicates: 1000,
});
const page = await resultsPage({
  test: { id: 'sim', name: 'speed', status: 'open', config: big.config } as never,
  conditions: big.conditions,
  raters: { total: 520, completed: 520, flagged: 0 },
  votes: big.records.length,
  flaggedVotes: 0,
  ...evaluation,
  incumbent: 'base',
  records: big.records,
  flaggedRaters: [],
});
const resultsMs = performance.now() - t;
row(
  'speed',
  `Bradley–Terry fit, ${prefs.length} valid votes`,
  `${fitMs.toFixed(1)} ms (${fit.iterations} Newton steps)`,
  '',
);
row('speed', `rater bootstrap, 1,000 replicates, ${prefs.length} votes`, `${bootMs.toFixed(0)} ms`, '');
row(
  'speed',
  `statistics + decision + report page, ${big.records.length} stored answers`,
  `${resultsMs.toFixed(0)} ms (${String(page).length} bytes of HTML)`,
  '< 300 ms',
);

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ');
console.log(line(['scenario', 'measure', 'result [95 % Wilson interval]', 'target']));
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
for (const r of rows) console.log(line(r));
