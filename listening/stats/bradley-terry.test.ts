import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createRng, shuffled } from '../rng.ts';
import type { PreferenceVote } from '../types.ts';
import {
  emptyTally,
  fitBradleyTerry,
  type PreferenceTally,
  preferenceProbability,
  tallyPreferences,
} from './bradley-terry.ts';

function vote(left: string, right: string, choice: PreferenceVote['choice'], raterId = 'r'): PreferenceVote {
  return {
    kind: 'ab',
    raterId,
    sentenceId: 's',
    left,
    right,
    choice,
    responseMs: 5000,
    audioMs: 4000,
  };
}

function votes(winner: string, loser: string, count: number): PreferenceVote[] {
  return Array.from({ length: count }, () => vote(winner, loser, 'left'));
}

test('two items: the fitted preference is wins / (wins + losses)', () => {
  // Closed form for two items: the likelihood is p^7 (1-p)^3, maximised at p = 7/10.
  const fit = fitBradleyTerry(tallyPreferences([...votes('a', 'b', 7), ...votes('b', 'a', 3)]), { prior: 0 });
  assert.ok(fit.converged);
  assert.ok(Math.abs(preferenceProbability(fit, 'a', 'b') - 0.7) < 1e-9);
  assert.ok(Math.abs((fit.logStrength[0] as number) - (fit.logStrength[1] as number) - Math.log(7 / 3)) < 1e-9);
});

test('ties count as half a win each', () => {
  // 3 wins, 1 loss, 2 ties -> 4 : 2 -> p = 2/3.
  const fit = fitBradleyTerry(
    tallyPreferences([...votes('a', 'b', 3), ...votes('b', 'a', 1), vote('a', 'b', 'tie'), vote('b', 'a', 'tie')]),
    { prior: 0 },
  );
  assert.ok(Math.abs(preferenceProbability(fit, 'a', 'b') - 2 / 3) < 1e-9);
});

test('a chain design has a closed form: strengths are products of win ratios', () => {
  // Only a-b and b-c are compared, so the likelihood splits into two binomials:
  // pi_a/pi_b = 6/2 = 3 and pi_b/pi_c = 4/1 = 4, so pi is proportional to (12, 4, 1).
  const data = [...votes('a', 'b', 6), ...votes('b', 'a', 2), ...votes('b', 'c', 4), ...votes('c', 'b', 1)];
  const fit = fitBradleyTerry(tallyPreferences(data, ['a', 'b', 'c']), {
    prior: 0,
  });
  const [la, lb, lc] = fit.logStrength as [number, number, number];
  assert.ok(Math.abs(la - lb - Math.log(3)) < 1e-8);
  assert.ok(Math.abs(lb - lc - Math.log(4)) < 1e-8);
  // Geometric-mean normalisation: mean log = 0, so la = ln 12 - ln(12*4*1)/3.
  assert.ok(Math.abs(la - (Math.log(12) - Math.log(48) / 3)) < 1e-8);
});

test('a symmetric cycle gives equal strengths', () => {
  const data = [...votes('a', 'b', 2), ...votes('b', 'a', 1), ...votes('b', 'c', 2), ...votes('c', 'b', 1)];
  data.push(...votes('c', 'a', 2), ...votes('a', 'c', 1));
  const fit = fitBradleyTerry(tallyPreferences(data), { prior: 0 });
  for (const x of fit.logStrength) assert.ok(Math.abs(x) < 1e-9);
});

/** Observed minus expected wins per item: zero at the maximum-likelihood estimate, whatever the algorithm. */
function scoreResiduals(tally: PreferenceTally, pi: readonly number[], prior: number): number[] {
  return tally.items.map((_, i) => {
    let observed = prior;
    let expected = prior > 0 ? (2 * prior * (pi[i] as number)) / ((pi[i] as number) + 1) : 0;
    tally.items.forEach((__, j) => {
      if (i === j) return;
      const wij = tally.wins[i]?.[j] ?? 0;
      const n = wij + (tally.wins[j]?.[i] ?? 0);
      observed += wij;
      expected += (n * (pi[i] as number)) / ((pi[i] as number) + (pi[j] as number));
    });
    return observed - expected;
  });
}

test('the fit solves the likelihood equations, with and without the prior', () => {
  const rng = createRng('score-equations');
  const tally = emptyTally(['a', 'b', 'c', 'd', 'e']);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j) (tally.wins[i] as number[])[j] = 1 + rng.int(9);
  for (const prior of [0, 0.5, 3]) {
    const fit = fitBradleyTerry(tally, { prior });
    assert.ok(fit.converged);
    const pi = prior > 0 ? fit.rawStrength : fit.strength;
    for (const r of scoreResiduals(tally, pi, prior)) assert.ok(Math.abs(r) < 1e-6, `prior ${prior}: ${r}`);
  }
});

test('an undefeated item stays finite with the prior and is ranked first', () => {
  const fit = fitBradleyTerry(tallyPreferences([...votes('a', 'b', 10), ...votes('b', 'c', 5), ...votes('c', 'b', 5)]));
  assert.ok(fit.converged);
  for (const x of fit.logStrength) assert.ok(Number.isFinite(x));
  assert.ok((fit.logStrength[0] as number) > (fit.logStrength[1] as number));
});

test('simulated votes with known strengths recover their order', () => {
  const rng = createRng('known-strengths');
  const truth = [-1, -0.5, 0, 0.4, 1.1];
  const items = truth.map((_, i) => `c${i}`);
  const data: PreferenceVote[] = [];
  for (let n = 0; n < 4000; n++) {
    const i = rng.int(5);
    const j = (i + 1 + rng.int(4)) % 5;
    const p = 1 / (1 + Math.exp((truth[j] as number) - (truth[i] as number)));
    data.push(vote(items[i] as string, items[j] as string, rng.next() < p ? 'left' : 'right'));
  }
  const fit = fitBradleyTerry(tallyPreferences(data, items));
  const meanTruth = truth.reduce((s, x) => s + x, 0) / truth.length;
  fit.logStrength.forEach((x, i) => {
    assert.ok(Math.abs(x - ((truth[i] as number) - meanTruth)) < 0.15, `item ${i}: ${x}`);
    if (i > 0) assert.ok(x > (fit.logStrength[i - 1] as number));
  });
});

const arbitraryVotes = fc.array(
  fc.record({
    left: fc.constantFrom('a', 'b', 'c', 'd'),
    right: fc.constantFrom('a', 'b', 'c', 'd'),
    choice: fc.constantFrom('left', 'right', 'tie') as fc.Arbitrary<PreferenceVote['choice']>,
  }),
  { minLength: 1, maxLength: 60 },
);

test('property: the fit ignores vote order and which side each item was shown on', () => {
  fc.assert(
    fc.property(arbitraryVotes, fc.integer(), (raw, seed) => {
      const data = raw.filter((v) => v.left !== v.right).map((v) => vote(v.left, v.right, v.choice));
      const items = ['a', 'b', 'c', 'd'];
      const base = fitBradleyTerry(tallyPreferences(data, items));
      const mirrored = shuffled(data, createRng(seed)).map((v) =>
        vote(v.right, v.left, v.choice === 'left' ? 'right' : v.choice === 'right' ? 'left' : 'tie'),
      );
      const other = fitBradleyTerry(tallyPreferences(mirrored, items));
      base.logStrength.forEach((x, i) => {
        assert.ok(Math.abs(x - (other.logStrength[i] as number)) < 1e-7);
      });
    }),
    { numRuns: 200 },
  );
});

test('Newton converges in a few steps at 10,000 votes where the default prior made MM hit its cap', () => {
  const rng = createRng('newton-10k');
  const truth = [0, 0.3, -0.4, 1.1, 0.6, -0.2, 0.9];
  const items = truth.map((_, i) => `i${i}`);
  const data: PreferenceVote[] = [];
  for (let n = 0; n < 10_000; n++) {
    const a = rng.int(items.length);
    let b = rng.int(items.length - 1);
    if (b >= a) b++;
    const p = 1 / (1 + Math.exp((truth[b] as number) - (truth[a] as number)));
    data.push(vote(items[a] as string, items[b] as string, rng.next() < p ? 'left' : 'right', `r${n % 500}`));
  }
  const tally = tallyPreferences(data, items);
  const fit = fitBradleyTerry(tally);
  assert.ok(fit.converged);
  assert.ok(fit.iterations <= 10, `${fit.iterations} Newton steps`);
  // At the optimum the score equations hold (observed = expected wins, prior included).
  const residuals = scoreResiduals(tally, fit.rawStrength, 0.5);
  for (const r of residuals) assert.ok(Math.abs(r) < 1e-6, `residual ${r}`);
  // And the strengths are recovered: every estimate within 0.15 of the truth (centred).
  const mean = truth.reduce((s, x) => s + x, 0) / truth.length;
  fit.logStrength.forEach((x, i) => {
    assert.ok(Math.abs(x - ((truth[i] as number) - mean)) < 0.15, `${items[i]}: ${x}`);
  });
});
