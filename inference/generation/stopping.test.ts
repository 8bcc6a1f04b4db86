import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstStop, maxNewTokens, repeatRun, stopToken, tooLongForText } from './stopping.ts';

test('stop token ends generation when it is the last code', () => {
  assert.equal(stopToken(1025)([3, 1025]), 'stop_token');
  assert.equal(stopToken(1025)([1025, 3]), null);
});

test('length guard at exactly max new tokens', () => {
  assert.equal(maxNewTokens(3)([1, 2]), null);
  assert.equal(maxNewTokens(3)([1, 2, 3]), 'max_new_tokens');
});

test('babble guard: a long run of one code, or far more codes than the text needs', () => {
  assert.equal(repeatRun(3)([5, 7, 7]), null);
  assert.equal(repeatRun(3)([5, 7, 7, 7]), 'repeat_run');
  assert.equal(tooLongForText(2, 2.5)([1, 2, 3, 4]), null);
  assert.equal(tooLongForText(2, 2.5)([1, 2, 3, 4, 5]), 'too_long_for_text');
});

test('the first criterion that fires is reported', () => {
  assert.equal(firstStop([maxNewTokens(2), stopToken(9)], [1, 9]), 'max_new_tokens');
  assert.equal(firstStop([stopToken(9)], [1, 2]), null);
});
