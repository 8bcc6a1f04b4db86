// Fuzzing the text normaliser with arbitrary Unicode in every language: it returns a string or
// refuses with a typed error, never hangs, and its output stays proportional to its input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { preprocessText } from './cleaners.ts';
import { LANGUAGES } from './languages.ts';

/** Hostile text: any code point (controls, combining marks, lone surrogates, RTL, emoji), digit runs, repeats. */
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 120 }),
  fc
    .array(
      fc.oneof(
        fc.stringMatching(/^[0-9.,%$€£¥₩:/-]{1,40}$/),
        fc.constantFrom(' ', '\u0301', '\u200f', '\ud800', '🙂', 'ⅻ', '٣', '〇'),
      ),
      {
        maxLength: 30,
      },
    )
    .map((parts) => parts.join('')),
  fc.tuple(fc.string({ maxLength: 3 }), fc.integer({ min: 1, max: 2000 })).map(([s, n]) => s.repeat(n)),
);

/** Slack for a normaliser that reads every digit, symbol and syllable as words. */
const GROWTH = 60;
/**
 * A hang, not a slow machine: inputs here normalise in milliseconds, though a first call may
 * load a dictionary for seconds and a loaded machine has stalled a call for as long again.
 */
const HANG_MS = 30_000;

/**
 * Inputs this fuzzing once found failing, run first in every language: Japanese threw TypeErrors
 * on NUL, on "valueOf" (a dictionary lookup that reached Object.prototype) and on symbol runs;
 * Chinese threw a plain Error on mathematical digits such as "𝟥".
 */
const FOUND: [string][] = [
  ['\u0000'],
  ['a\u0000b'],
  ['valueOf'],
  ['constructor __proto__'],
  ['"\'-;[]^_'],
  ['𝟥'],
  ['𝟙𝟚.𝟝'],
];

describe('the normaliser takes any text: a string out, in bounded time and size', () => {
  for (const lang of LANGUAGES) {
    it(lang, () => {
      const heapBefore = process.memoryUsage().heapUsed;
      let longest = 0;
      fc.assert(
        fc.property(hostileText, (text) => {
          const t0 = performance.now();
          let out: string;
          try {
            out = preprocessText(text, lang);
          } catch (err) {
            // The only refusals allowed are typed ones that name what is wrong.
            assert.ok(err instanceof Error && !['Error', 'TypeError', 'RangeError'].includes(err.name), String(err));
            return;
          }
          const ms = performance.now() - t0;
          longest = Math.max(longest, ms);
          assert.equal(typeof out, 'string');
          assert.ok(ms < HANG_MS, `${ms.toFixed(0)} ms for ${JSON.stringify(text.slice(0, 60))}`);
          assert.ok(out.length <= GROWTH * text.length + 100, `${text.length} → ${out.length} characters`);
        }),
        { numRuns: 150, seed: 14, examples: FOUND },
      );
      const grown = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
      assert.ok(grown < 256, `heap grew by ${grown.toFixed(0)} MB`);
      if (longest > 1000) console.log(`${lang}: slowest ${longest.toFixed(0)} ms`);
    });
  }
});
