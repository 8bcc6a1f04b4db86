// The dataset builder refuses bad input with exit 2, an error code and the file's name, and
// leaves no dataset behind. Runs the real Python (PyAV; the bundled Whisper tiny.en for one case).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { runPython } from '../model-package/python.ts';
import { wavBytes } from './fixture.ts';

describe('the dataset builder refuses bad input, naming the file', { skip: EMBEDDED_PASS_ONLY }, () => {
  let work = '';
  let good = '';

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'dataset-errors-'));
    good = join(work, 'good.wav');
    const r = spawnSync('espeak-ng', ['-w', good, 'A short sentence that is perfectly fine to decode.']);
    assert.equal(r.status, 0, String(r.stderr));
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  async function build(files: string[], language = 'en') {
    const out = join(work, `out-${Math.random().toString(36).slice(2)}`, 'build');
    const spec = {
      out_dir: out,
      work_dir: join(work, 'work'),
      language,
      chunker: 'sentence',
      recordings: files.map((path, i) => ({ id: `r${i}`, name: path.split('/').pop(), path, transcript: null })),
      options: { asr: { model: 'tiny.en-bundled', device: 'cpu' } },
    };
    const specPath = `${out}.json`;
    spawnSync('mkdir', ['-p', join(out, '..')]);
    writeFileSync(specPath, JSON.stringify(spec));
    const r = await runPython('dataset.build', [specPath]);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    const last = JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(last.event, 'error');
    assert.equal(existsSync(out) || existsSync(`${out}.partial`), false, 'no dataset left behind');
    return last;
  }

  const cases: [string, string, (p: string) => void][] = [
    [
      'corrupt.mp3',
      'AUDIO_UNREADABLE',
      (p) => writeFileSync(p, Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 7919) % 251))),
    ],
    ['truncated.wav', 'AUDIO_UNREADABLE', (p) => writeFileSync(p, readFileSync(good).subarray(0, 30))],
    ['empty.flac', 'AUDIO_EMPTY', (p) => writeFileSync(p, '')],
    [
      'notes.m4a',
      'AUDIO_UNREADABLE',
      (p) => writeFileSync(p, 'Chapter one. These are my notes, not audio.\n'.repeat(50)),
    ],
    [
      'absurd.wav',
      'AUDIO_HEADER_INVALID',
      (p) => {
        const b = wavBytes(new Int16Array(22050));
        b.writeUInt32LE(4294967295, 24); // the sample rate field
        writeFileSync(p, b);
      },
    ],
    [
      'many-channels.wav',
      'AUDIO_HEADER_INVALID',
      (p) => {
        const b = wavBytes(new Int16Array(22050));
        b.writeUInt16LE(65535, 22); // the channel count field
        writeFileSync(p, b);
      },
    ],
  ];

  for (const [name, code, make] of cases) {
    test(`${name} → ${code}, named, after a good recording`, async () => {
      const path = join(work, name);
      make(path);
      const e = await build([good, path]);
      assert.deepEqual([e.code, e.file], [code, name]);
      assert.match(String(e.message), new RegExp(name.replace('.', '\\.')));
    });
  }

  test('a language XTTS-v2 does not speak → LANGUAGE_UNSUPPORTED', async () => {
    const e = await build([good], 'sv');
    assert.deepEqual([e.code, e.file], ['LANGUAGE_UNSUPPORTED', null]);
  });

  test('German with an English-only Whisper → LANGUAGE_UNSUPPORTED', async () => {
    const e = await build([good], 'de');
    assert.equal(e.code, 'LANGUAGE_UNSUPPORTED');
    assert.match(String(e.message), /English only/);
  });
});
