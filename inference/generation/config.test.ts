import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GenerationConfigSchema, generationConfig } from './config.ts';

test('defaults are the released config.json inference block', () => {
  const c = generationConfig();
  assert.equal(c.temperature, 0.75);
  assert.equal(c.length_penalty, 1.0);
  assert.equal(c.repetition_penalty, 5.0);
  assert.equal(c.top_k, 50);
  assert.equal(c.top_p, 0.85);
  assert.equal(c.do_sample, true);
  assert.equal(c.max_new_tokens, 602);
  assert.equal(c.stop_audio_token, 1025);
  assert.equal(c.babble_guard, null);
});

test('out-of-range values and unknown keys are refused', () => {
  assert.equal(GenerationConfigSchema.safeParse({ top_p: 1.5 }).success, false);
  assert.equal(GenerationConfigSchema.safeParse({ max_new_tokens: 603 }).success, false);
  assert.equal(GenerationConfigSchema.safeParse({ temprature: 1 }).success, false);
});

test('the babble guard fills its own defaults when turned on', () => {
  assert.deepEqual(generationConfig({ babble_guard: {} }).babble_guard, {
    max_repeat_run: 40,
    max_codes_per_text_token: 12,
  });
});
