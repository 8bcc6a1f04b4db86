import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generationConfig } from './config.ts';
import { Rng } from './rng.ts';
import { argmax, draw, Sampler } from './sampler.ts';

test('xoshiro128** from state [1,2,3,4] gives 11520, 0, 5927040 (worked from the C reference)', () => {
  const rng = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()], [11520, 0, 5927040]);
});

test('a seed fixes the stream; a saved state resumes it exactly', () => {
  const a = Rng.fromSeed(42);
  const b = Rng.fromSeed(42);
  const first = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    Array.from({ length: 5 }, () => b.next()),
    first,
  );
  const saved = JSON.parse(JSON.stringify(a.state));
  const next = Array.from({ length: 5 }, () => a.next());
  const resumed = Rng.fromState(saved);
  assert.deepEqual(
    Array.from({ length: 5 }, () => resumed.next()),
    next,
  );
  assert.notDeepEqual(
    Array.from({ length: 5 }, () => Rng.fromSeed(43).next()),
    first,
  );
});

test('draw takes the first index whose cumulative probability exceeds u', () => {
  const p = Float64Array.from([0.2, 0.5, 0.3]);
  assert.equal(draw(p, 0.1), 0);
  assert.equal(draw(p, 0.2), 1);
  assert.equal(draw(p, 0.69), 1);
  assert.equal(draw(p, 0.71), 2);
  assert.equal(draw(Float64Array.from([0, 1, 0]), 0.999999), 1);
});

test('argmax takes the first of tied maxima', () => {
  assert.equal(argmax(Float32Array.from([1, 3, 3])), 1);
});

test('the processors run in the reference order: penalty, temperature, top-k, top-p', () => {
  // logits [2, 1, 0, -1], id 1 seen, penalty 2 → [2, 0.5, 0, -1]; temperature 0.5 →
  // [4, 1, 0, -2]; top-k 3 → [4, 1, 0, -inf]; softmax of [4, 1, 0] = .93624 .04661 .01715;
  // top-p 0.97 (1 − p = .03) drops only .01715 → [4, 1, -inf, -inf].
  const sampler = new Sampler(
    generationConfig({ repetition_penalty: 2, temperature: 0.5, top_k: 3, top_p: 0.97, seed: 7 }),
  );
  const logits = Float32Array.from([2, 1, 0, -1]);
  const picks = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const l = Float32Array.from(logits);
    picks.add(sampler.sample(l, [1]));
    assert.deepEqual([...l], [4, 1, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  }
  assert.deepEqual([...picks].sort(), [0, 1]);
});

test('sampling frequencies follow the processed distribution', () => {
  // [ln 0.6, ln 0.4] with everything neutral: token 0 about 60% of draws
  const sampler = new Sampler(generationConfig({ repetition_penalty: 1, temperature: 1, top_k: 0, top_p: 1, seed: 1 }));
  let zeros = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) if (sampler.sample(Float32Array.from([Math.log(0.6), Math.log(0.4)]), []) === 0) zeros++;
  assert.ok(Math.abs(zeros / n - 0.6) < 0.015, `${zeros / n}`);
});

test('without sampling: penalty, then argmax', () => {
  const sampler = new Sampler(generationConfig({ do_sample: false, repetition_penalty: 2 }));
  assert.equal(sampler.sample(Float32Array.from([5, 4.9, 1]), [0]), 1);
});

test('same seed, same codes; a sampler rebuilt from a saved state continues identically', () => {
  const config = generationConfig({ seed: 123 });
  const logits = () => Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  const run = (s: Sampler, n: number) => Array.from({ length: n }, () => s.sample(logits(), []));
  const a = new Sampler(config);
  const b = new Sampler(config);
  assert.deepEqual(run(a, 20), run(b, 20));
  const resumed = new Sampler(config, a.state);
  assert.deepEqual(run(resumed, 20), run(a, 20));
});
