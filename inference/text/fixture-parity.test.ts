// Parity with Python `tokenizers`: the tiny model fixture carries reference token ids
// computed by `Tokenizer.from_file(vocab).encode(tokenizer_input).ids` for its sentences.
// The test finds that reference file (a JSON with `vocab_sha256` and `sentences`) and the
// vocab whose sha256 it names under test/fixtures/tiny/; it skips until they exist.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BpeTokenizer } from './bpe.ts';

type Reference = { vocab_sha256: string; sentences: Array<{ lang: string; tokenizer_input: string; ids: number[] }> };

const dir = new URL('../../test/fixtures/tiny/', import.meta.url).pathname;

function findFixture(): { vocab: string; reference: Reference } | null {
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  const bySha = new Map(
    files.map((f) => [
      createHash('sha256')
        .update(readFileSync(join(dir, f)))
        .digest('hex'),
      f,
    ]),
  );
  for (const f of files) {
    const json = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<Reference>;
    if (!json.vocab_sha256 || !Array.isArray(json.sentences)) continue;
    const vocab = bySha.get(json.vocab_sha256);
    if (vocab) return { vocab: readFileSync(join(dir, vocab), 'utf8'), reference: json as Reference };
  }
  return null;
}

const fixture = findFixture();

test('token ids equal Python tokenizers for every fixture sentence', {
  skip: fixture ? false : 'no tiny fixture token ids yet',
}, () => {
  const { vocab, reference } = fixture as NonNullable<typeof fixture>;
  const bpe = BpeTokenizer.fromJson(vocab);
  assert.ok(reference.sentences.length > 0);
  for (const s of reference.sentences) {
    assert.deepEqual(bpe.encode(s.tokenizer_input), s.ids, `${s.lang}: ${s.tokenizer_input}`);
  }
});
