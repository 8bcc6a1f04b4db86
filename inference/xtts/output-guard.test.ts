import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../engine/types.ts';
import { OutputGuard } from './xtts.ts';

const code = (f: () => void) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof EngineError);
    return e.code;
  }
  return 'passed';
};

test('synthesised audio with a non-finite sample is stopped before it leaves', () => {
  const g = new OutputGuard();
  assert.equal(
    code(() => g.check(Float32Array.of(0.1, -0.2), false)),
    'passed',
  );
  assert.equal(
    code(() => g.check(Float32Array.of(0.1, Number.NaN), false)),
    'OUTPUT_INVALID',
  );
  assert.equal(
    code(() => new OutputGuard().check(Float32Array.of(Number.POSITIVE_INFINITY), true)),
    'OUTPUT_INVALID',
  );
});

test('an utterance that never rises above silence fails at its last chunk; quiet chunks of speech pass', () => {
  const silent = new OutputGuard();
  assert.equal(
    code(() => silent.check(new Float32Array(4800), false)),
    'passed',
  );
  assert.equal(
    code(() => silent.check(new Float32Array(4800), true)),
    'OUTPUT_INVALID',
  );
  const speech = new OutputGuard();
  assert.equal(
    code(() => speech.check(Float32Array.of(0, 0.3, -0.2), false)),
    'passed',
  );
  assert.equal(
    code(() => speech.check(new Float32Array(4800), true)),
    'passed',
  );
});
