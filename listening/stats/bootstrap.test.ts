import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreferenceVote } from '../types.ts';
import { bootstrapBradleyTerry, quantileSorted } from './bootstrap.ts';

function votes(winner: string, loser: string, count: number, rater = 'r'): PreferenceVote[] {
  return Array.from({ length: count }, (_, i) => ({
    kind: 'ab' as const,
    raterId: `${rater}${i % 20}`,
    sentenceId: 's',
    left: winner,
    right: loser,
    choice: 'left' as const,
    responseMs: 5000,
    audioMs: 4000,
  }));
}

test('type-7 quantile matches hand values', () => {
  // Sorted 1..5: q=0.25 -> position 1 -> 2; q=0.1 -> position 0.4 -> 1.4.
  assert.equal(quantileSorted([1, 2, 3, 4, 5], 0.25), 2);
  assert.ok(Math.abs(quantileSorted([1, 2, 3, 4, 5], 0.1) - 1.4) < 1e-12);
});

test('two items: the bootstrap interval agrees with the delta-method interval of the logit', () => {
  // 240 of 400 votes for a: p = 0.6. With two items, log pi_a = logit(p)/2 after normalisation.
  // Delta method: se(logit p) = 1/sqrt(n p (1-p)) = 1/sqrt(96) = 0.10206, so the 95% interval of
  // log pi_a is logit(0.6)/2 +- 1.96*0.10206/2 = 0.20273 +- 0.10002 = [0.1027, 0.3028].
  const data = [...votes('a', 'b', 240), ...votes('b', 'a', 160)];
  const s = bootstrapBradleyTerry(data, ['a', 'b'], {
    prior: 0,
    replicates: 2000,
    seed: 1,
  });
  const a = s.estimates[0];
  assert.ok(a);
  assert.ok(Math.abs(a.logStrength - 0.20273) < 1e-4);
  assert.ok(Math.abs(a.ci.low - 0.1027) < 0.02, `low ${a.ci.low}`);
  assert.ok(Math.abs(a.ci.high - 0.3028) < 0.02, `high ${a.ci.high}`);
  assert.ok(a.probabilityBest > 0.99);
});

test('the same seed reproduces the intervals; another seed does not', () => {
  const data = [...votes('a', 'b', 30), ...votes('b', 'a', 20), ...votes('b', 'c', 25), ...votes('c', 'b', 25)];
  const one = bootstrapBradleyTerry(data, [], { replicates: 200, seed: 'x' });
  const two = bootstrapBradleyTerry(data, [], { replicates: 200, seed: 'x' });
  const three = bootstrapBradleyTerry(data, [], { replicates: 200, seed: 'y' });
  assert.deepEqual(one.estimates, two.estimates);
  assert.notDeepEqual(one.estimates, three.estimates);
});

test('intervals contain the estimate and shrink with more votes', () => {
  const small = [...votes('a', 'b', 30), ...votes('b', 'a', 20), ...votes('b', 'c', 25), ...votes('c', 'b', 25)];
  const large = [...small, ...small, ...small, ...small];
  const s = bootstrapBradleyTerry(small, [], { replicates: 400, seed: 3 });
  const l = bootstrapBradleyTerry(large, [], { replicates: 400, seed: 3 });
  s.estimates.forEach((e, i) => {
    const big = l.estimates[i];
    assert.ok(big);
    assert.ok(e.ci.low <= e.logStrength && e.logStrength <= e.ci.high);
    assert.ok(big.ci.high - big.ci.low < e.ci.high - e.ci.low);
  });
});

test('resampling raters gives wider intervals when raters are internally consistent', () => {
  // Ten raters each give 30 identical answers: the information is closer to 10 votes than 300.
  const data: PreferenceVote[] = [];
  for (let r = 0; r < 10; r++) {
    const [w, l] = r < 6 ? ['a', 'b'] : ['b', 'a'];
    for (let i = 0; i < 30; i++)
      data.push({
        ...(votes(w as string, l as string, 1)[0] as PreferenceVote),
        raterId: `r${r}`,
      });
  }
  const byVote = bootstrapBradleyTerry(data, ['a', 'b'], {
    replicates: 500,
    seed: 5,
  });
  const byRater = bootstrapBradleyTerry(data, ['a', 'b'], {
    replicates: 500,
    seed: 5,
    unit: 'rater',
  });
  const width = (x: typeof byVote) => (x.estimates[0]?.ci.high ?? 0) - (x.estimates[0]?.ci.low ?? 0);
  assert.ok(width(byRater) > 2 * width(byVote));
});
