import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createRng } from '../rng.ts';
import { balancedSwaps } from './orientation.ts';
import { type AbTrial, blindView, designSession, isCheckTrial, type SessionRequest, trialKey } from './session.ts';

const items = ['base', 'c1', 'c2', 'c3', 'c4'];
const allPairs = items.flatMap((a, i) => items.slice(i + 1).map((b) => ({ a, b, trials: 10 })));
const request = (over: Partial<SessionRequest> = {}): SessionRequest => ({
  raterId: 'r1',
  seed: 7,
  sentences: ['s1', 's2', 's3', 's4', 's5', 's6'],
  pairs: allPairs,
  abTrials: 24,
  ratings: { kind: 'mos', items, count: 10 },
  goldIds: ['g1', 'g2', 'g3'],
  trapIds: ['t1'],
  gold: 6,
  trap: 2,
  ...over,
});

function imbalance(trials: readonly AbTrial[]): number {
  const score = new Map<string, number>();
  for (const t of trials) {
    score.set(t.left, (score.get(t.left) ?? 0) + 1);
    score.set(t.right, (score.get(t.right) ?? 0) - 1);
  }
  return Math.max(0, ...[...score.values()].map(Math.abs));
}

test('property: every item is within one of left/right balance, for any multiset of pairs', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })), { maxLength: 80 }),
      fc.integer(),
      (raw, seed) => {
        const pairs = raw.filter(([a, b]) => a !== b).map(([a, b]) => [`i${a}`, `i${b}`] as const);
        const swaps = balancedSwaps(pairs, createRng(seed));
        const trials = pairs.map(([a, b], i) => ({ left: swaps[i] ? b : a, right: swaps[i] ? a : b }));
        assert.ok(imbalance(trials as AbTrial[]) <= 1);
      },
    ),
  );
});

test('property: a session never repeats a sentence/pair, respects history, and balances sides', () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 0, max: 40 }), (seed, ab) => {
      const first = designSession(request({ seed, abTrials: ab }));
      const second = designSession(request({ seed: seed + 1, abTrials: ab, seen: first.keys }));
      for (const s of [first, second]) {
        const abTrials = s.trials.filter((t): t is AbTrial => t.kind === 'ab');
        const keys = abTrials.map((t) => trialKey('ab', t.sentenceId, t.left, t.right));
        assert.equal(new Set(keys).size, keys.length);
        assert.ok(imbalance(abTrials) <= 1);
        assert.equal(new Set(s.trials.map((t) => t.trialId)).size, s.trials.length);
      }
      for (const k of second.keys) assert.ok(!first.keys.includes(k));
    }),
    { numRuns: 50 },
  );
});

test('gold and trap checks are side-balanced and spread through the session', () => {
  const s = designSession(request());
  assert.equal(s.trials.length, 24 + 10 + 8);
  const gold = s.trials.filter(isCheckTrial).filter((t) => t.kind === 'gold');
  assert.equal(gold.filter((t) => t.expected === 'left').length, 3);
  // The k-th of 8 checks comes after floor(k*34/8) and at most floor((k+1)*34/8) main trials.
  let main = 0;
  let k = 0;
  for (const t of s.trials) {
    if (t.kind === 'gold' || t.kind === 'trap') {
      assert.ok(main >= Math.floor((k * 34) / 8) && main <= Math.floor(((k + 1) * 34) / 8), `check ${k} after ${main}`);
      k++;
    } else main++;
  }
  assert.equal(k, 8);
});

test('sessions are reproducible from their seed and differ between seeds and raters', () => {
  assert.deepEqual(designSession(request()), designSession(request()));
  assert.notDeepEqual(designSession(request()).trials, designSession(request({ seed: 8 })).trials);
  assert.notDeepEqual(designSession(request()).trials, designSession(request({ raterId: 'r2' })).trials);
});

test('a pair runs out when its sentences are used up, and the shortfall is reported', () => {
  const s = designSession(request({ pairs: [{ a: 'c1', b: 'c2', trials: 100 }], abTrials: 10, ratings: undefined }));
  assert.equal(s.trials.filter((t) => t.kind === 'ab').length, 6);
  assert.equal(s.unfilled, 4);
});

test('the blind view names no item and no answer', () => {
  const s = designSession(request());
  const text = JSON.stringify(s.trials.map(blindView));
  for (const word of [...items, 'left', 'right', 'g1', 't1', 's1']) assert.ok(!text.includes(`"${word}"`), word);
});
