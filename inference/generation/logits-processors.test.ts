// Expected values are worked out by hand in the comments from HF's definitions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  beamScore,
  referenceInputIds,
  repetitionPenalty,
  softmax,
  temperature,
  topK,
  topP,
} from './logits-processors.ts';

const NEG = Number.NEGATIVE_INFINITY;
const f32 = (xs: number[]) => Float32Array.from(xs);

test('repetition penalty divides positive, multiplies negative, once per id', () => {
  const logits = f32([2, -1, 0.5, 3]);
  repetitionPenalty(2)(logits, [0, 1, 1]);
  assert.deepEqual([...logits], [1, -2, 0.5, 3]);
});

test('the reference input ids penalise code 1 and the start token from the first step', () => {
  const ids = referenceInputIds(3, 5, []);
  assert.deepEqual(ids, [1, 1, 1, 5]);
  const logits = f32([4, 4, 4, 4, 4, 4]);
  repetitionPenalty(4)(logits, ids);
  assert.deepEqual([...logits], [4, 1, 4, 4, 4, 1]);
});

test('temperature divides every logit', () => {
  const logits = f32([1, -2, 0.5]);
  temperature(0.5)(logits, []);
  assert.deepEqual([...logits], [2, -4, 1]);
});

test('top-k keeps the k largest and every tie with the k-th', () => {
  const a = f32([1, 3, 3, 2, 0]);
  topK(2)(a, []);
  assert.deepEqual([...a], [NEG, 3, 3, NEG, NEG]);
  const b = f32([1, 3, 3, 2, 0]);
  topK(3)(b, []);
  assert.deepEqual([...b], [NEG, 3, 3, 2, NEG]);
});

test('top-p drops the tail whose cumulative probability is ≤ 1 − p', () => {
  // probabilities 0.5 0.3 0.15 0.05 → ascending cumulative 0.05 0.20 0.50 1.00
  const probs = [0.5, 0.3, 0.15, 0.05];
  const a = f32(probs.map(Math.log));
  topP(0.85)(a, []); // 1 − p = 0.15: only 0.05 goes
  assert.deepEqual(
    [...a].map((v) => v === NEG),
    [false, false, false, true],
  );
  const b = f32(probs.map(Math.log));
  topP(0.7)(b, []); // 1 − p = 0.3: 0.05 and 0.15 go
  assert.deepEqual(
    [...b].map((v) => v === NEG),
    [false, false, true, true],
  );
  const c = f32(probs.map(Math.log));
  topP(0.01)(c, []); // everything but the most likely, which is always kept
  assert.deepEqual(
    [...c].map((v) => v === NEG),
    [false, true, true, true],
  );
});

test('softmax matches exp/sum and ignores -inf', () => {
  const p = softmax(f32([Math.log(1), Math.log(3), NEG]));
  assert.ok(Math.abs((p[0] as number) - 0.25) < 1e-7);
  assert.ok(Math.abs((p[1] as number) - 0.75) < 1e-7);
  assert.equal(p[2], 0);
});

test('length penalty only scores beams: sum log-probs / length^penalty', () => {
  assert.equal(beamScore(-6, 3, 1), -2);
  assert.equal(beamScore(-6, 3, 2), -6 / 9);
});

test('invalid settings are refused', () => {
  assert.throws(() => temperature(0));
  assert.throws(() => topP(0));
  assert.throws(() => topK(-1));
  assert.throws(() => repetitionPenalty(0));
});
