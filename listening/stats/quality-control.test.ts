import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer, Side } from '../types.ts';
import { assessRaters, validVotes } from './quality-control.ts';

const timing = { responseMs: 9000, audioMs: 8000 };
const ab = (raterId: string, choice: Side, left = 'a', right = 'b'): Answer => ({
  kind: 'ab',
  raterId,
  sentenceId: 's',
  left,
  right,
  choice,
  ...timing,
});
const check = (raterId: string, kind: 'gold' | 'trap', expected: Side, choice: Side): Answer => ({
  kind,
  raterId,
  expected,
  choice,
  ...timing,
});

/** An honest session: alternating sides, all checks passed. */
function honest(id: string): Answer[] {
  const out: Answer[] = [];
  for (let i = 0; i < 16; i++) out.push(ab(id, i % 2 ? 'left' : 'right'));
  for (let i = 0; i < 6; i++) {
    const side = i % 2 ? 'left' : 'right';
    out.push(check(id, 'gold', side, side));
  }
  out.push(check(id, 'trap', 'left', 'left'), check(id, 'trap', 'right', 'right'));
  return out;
}

const reportFor = (answers: Answer[], id: string) => assessRaters(answers).find((r) => r.raterId === id);

test('an honest rater is trusted, with one gold slip allowed', () => {
  const answers = honest('h');
  answers.push(check('h', 'gold', 'left', 'right'));
  const r = reportFor(answers, 'h');
  assert.equal(r?.status, 'trusted');
  assert.deepEqual(r?.gold, { trials: 7, failures: 1, allowed: 1 });
});

test('a failed trap flags', () => {
  const answers = [...honest('t'), check('t', 'trap', 'left', 'right')];
  assert.deepEqual(reportFor(answers, 't')?.reasons, ['trap-failed']);
});

test('two gold failures out of six flag', () => {
  const answers = honest('g').filter((a) => a.kind !== 'gold');
  for (let i = 0; i < 6; i++) answers.push(check('g', 'gold', 'left', i < 2 ? 'right' : 'left'));
  assert.deepEqual(reportFor(answers, 'g')?.reasons, ['gold-failed']);
});

test('always-left is caught by the side-bias test', () => {
  // 16 A/B + 6 gold + 2 trap, all "left": p = 2 * 2^-24 for the left share.
  const answers = honest('l').map((a) => ('choice' in a ? { ...a, choice: 'left' as const } : a));
  const r = reportFor(answers, 'l');
  assert.ok(r?.reasons.includes('side-bias'));
  assert.ok((r?.side.p ?? 1) < 1e-6);
});

test('answers faster than the audio flag when they exceed a quarter', () => {
  const answers = honest('f').map((a, i) => (i < 7 ? { ...a, responseMs: 2000 } : a));
  // 7 of 24 answers too fast = 29% > 25%.
  assert.deepEqual(reportFor(answers, 'f')?.reasons, ['too-fast']);
  const fewer = honest('f').map((a, i) => (i < 6 ? { ...a, responseMs: 2000 } : a));
  assert.equal(reportFor(fewer, 'f')?.status, 'trusted');
});

test('a rater with no checks yet is unverified and not counted', () => {
  const answers = [...honest('h'), ab('new', 'left'), ab('new', 'right')];
  assert.equal(reportFor(answers, 'new')?.status, 'unverified');
  const valid = validVotes(answers, assessRaters(answers));
  assert.equal(valid.preferences.length, 16);
  assert.equal(valid.excluded, 2);
});

test("flagged raters' votes are excluded, and so are a trusted rater's too-fast answers", () => {
  const answers = [...honest('h'), ...honest('c').map((a) => ('choice' in a ? { ...a, choice: 'left' as const } : a))];
  (answers[0] as Answer).responseMs = 500;
  const valid = validVotes(answers, assessRaters(answers));
  assert.equal(valid.preferences.length, 15);
  assert.ok(valid.preferences.every((v) => v.raterId === 'h'));
  assert.equal(valid.excluded, 1 + 16);
});
