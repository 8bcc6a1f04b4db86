// The engine's long-text splitting against Coqui's own split_sentence (spaCy's sentencizer on the
// language's spaCy tokenizer, packing to the language's character limit, textwrap) over texts made
// of the text corpus's sentences and hard cases per language: test/fixtures/coqui-text/split.json,
// made by trainer/reference/coqui_split.py (npm run reference:text).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { charLimit, LANGUAGES } from './languages.ts';
import { splitSentences } from './sentences.ts';

type Entry = { lang: string; text: string; splits: string[] };
type Reference = { char_limits: Record<string, number>; entries: Entry[] };

const reference = JSON.parse(
  readFileSync(new URL('../../test/fixtures/coqui-text/split.json', import.meta.url), 'utf8'),
) as Reference;

/**
 * Share of the texts split exactly as Coqui splits them, where it is under 100 % (a regression
 * floor; the README gives the reason): SudachiPy keeps some abbreviations whole by their context
 * ("No." before a line break), which the engine's Japanese tokens do not follow.
 */
const MIN_AGREEMENT: Record<string, number> = { ja: 98.3 };

test("the engine's character limits are Coqui's", () => {
  for (const lang of LANGUAGES) {
    assert.equal(charLimit(lang), reference.char_limits[lang.split('-')[0] as string], lang);
  }
});

test('long texts are split as Coqui splits them, per language', (t) => {
  const rows: string[] = [];
  const failures: string[] = [];
  for (const lang of LANGUAGES) {
    const entries = reference.entries.filter((e) => e.lang === lang);
    assert.ok(entries.length >= 30, `${lang}: ${entries.length} texts`);
    let agree = 0;
    const examples: string[] = [];
    for (const e of entries) {
      const ours = splitSentences(e.text, lang);
      if (JSON.stringify(ours) === JSON.stringify(e.splits)) agree++;
      else if (examples.length < 3)
        examples.push(
          `    ${JSON.stringify(e.text)}\n      coqui: ${JSON.stringify(e.splits)}\n      ours:  ${JSON.stringify(ours)}`,
        );
    }
    const pct = (100 * agree) / entries.length;
    rows.push(
      `${lang.padEnd(6)} ${String(entries.length).padStart(4)} ${String(agree).padStart(6)} ${pct.toFixed(1).padStart(6)} %`,
    );
    if (pct + 1e-9 < (MIN_AGREEMENT[lang] ?? 100))
      failures.push(`${lang}: ${pct.toFixed(1)} %\n${examples.join('\n')}`);
  }
  t.diagnostic(`lang  texts  agree  share\n${rows.join('\n')}`);
  assert.deepEqual(failures, []);
});
