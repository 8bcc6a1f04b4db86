// Acceptance of the dataset builder: the real Python (PyAV, faster-whisper with the bundled
// Whisper tiny.en on CPU) over a synthetic speaker whose every word time is known.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { childEnv } from '../../infra/index.ts';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { pythonBinary, repoRoot, runPython } from '../model-package/python.ts';
import { makeRecordings, type Recording, WRONG_TEXT, wavBytes } from './fixture.ts';

// Whisper (CTranslate2) on one thread in the builds below (trainer/dataset/asr.py honours
// OMP_NUM_THREADS): where every core is busy, as in the suite, a second thread mostly waits for
// the first and spends CPU waiting (one recording here: 14 s of CPU on two threads, 8.7 s on one).
// The transcript is the same at any thread count.
process.env.OMP_NUM_THREADS ??= '1';

describe('building a dataset from synthetic recordings with the real Whisper', { skip: EMBEDDED_PASS_ONLY }, () => {
  const MIN_S = 3;
  const MAX_S = 11.6;
  let work = '';
  let recs: Recording[] = [];

  interface Clip {
    id: string;
    file: string;
    recording: string;
    start_s: number;
    end_s: number;
    duration_s: number;
    text: string;
    status: 'kept' | 'dropped' | 'flagged';
    reasons: string[];
    split: string | null;
  }
  interface Run {
    code: number;
    events: Record<string, unknown>[];
    stderr: string;
  }

  async function run(module: string, spec: object): Promise<Run> {
    const file = join(work, `spec-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(spec));
    const r = await runPython(module, [file]);
    // Nothing but events on stdout: every line must parse.
    const events = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { code: r.code, events, stderr: r.stderr };
  }

  function spec(chunker: string, out: string, recordings = recs, extra: object = {}) {
    return {
      out_dir: out,
      work_dir: join(work, 'work'),
      language: 'en',
      chunker,
      recordings: recordings.map((r) => ({ id: r.id, name: basename(r.path), path: r.path, transcript: r.transcript })),
      options: { asr: { backend: 'faster-whisper', model: 'tiny.en-bundled', device: 'cpu' } },
      ...extra,
    };
  }

  // --- independent readers, written from the formats' specifications ---------------------------

  /** LJSpeech: UTF-8 lines "id|transcription|normalized transcription", no header, wavs/<id>.wav. */
  function readLJSpeech(dir: string, name: string): { id: string; text: string; norm: string }[] {
    const raw = readFileSync(join(dir, name), 'utf8');
    if (raw === '') return [];
    assert.ok(raw.endsWith('\n'), `${name} ends with a newline`);
    return raw
      .slice(0, -1)
      .split('\n')
      .map((line) => {
        const cols = line.split('|');
        assert.equal(cols.length, 3, `${name}: three pipe-separated columns in "${line}"`);
        const [id, text, norm] = cols as [string, string, string];
        assert.match(id, /^[A-Za-z0-9_-]+$/);
        assert.ok(text.trim() !== '' && norm.trim() !== '', `${name}: text in "${line}"`);
        assert.ok(existsSync(join(dir, 'wavs', `${id}.wav`)), `${name}: wavs/${id}.wav exists`);
        return { id, text, norm };
      });
  }

  function wavInfo(path: string) {
    const b = readFileSync(path);
    assert.equal(b.toString('ascii', 0, 4), 'RIFF');
    assert.equal(b.toString('ascii', 8, 12), 'WAVE');
    let pos = 12;
    let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
    while (pos + 8 <= b.length) {
      const id = b.toString('ascii', pos, pos + 4);
      const size = b.readUInt32LE(pos + 4);
      if (id === 'fmt ') {
        fmt = {
          format: b.readUInt16LE(pos + 8),
          channels: b.readUInt16LE(pos + 10),
          rate: b.readUInt32LE(pos + 12),
          bits: b.readUInt16LE(pos + 22),
        };
      }
      if (id === 'data' && fmt) return { ...fmt, seconds: size / (fmt.channels * (fmt.bits / 8) * fmt.rate) };
      pos += 8 + size + (size % 2);
    }
    throw new Error(`${path}: no fmt/data chunk`);
  }

  function soxRms(path: string): number {
    const r = spawnSync('sox', [path, '-n', 'stats'], { encoding: 'utf8' });
    const m = /RMS lev dB\s+(-?[\d.]+)/.exec(r.stderr);
    assert.ok(m, `sox stats for ${path}: ${r.stderr}`);
    return Number(m[1]);
  }

  const words = (s: string) =>
    s
      .toLowerCase()
      .split(/\s+/)
      .map((w) => w.replace(/[^\p{L}\p{N}]/gu, ''))
      .filter((w) => w !== '');

  function editDistance(a: string[], b: string[]): number {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++)
        cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length]!;
  }

  // --- the shared builds --------------------------------------------------------------------------

  const builds: Record<string, { run: Run; dir: string; clips: Clip[]; report: Record<string, unknown> }> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dataset-'));
    recs = makeRecordings(work);
    for (const chunker of ['sentence', 'statistical']) {
      const dir = join(work, chunker, 'build');
      const r = await run('dataset.build', spec(chunker, dir));
      assert.equal(r.code, 0, r.stderr);
      builds[chunker] = {
        run: r,
        dir,
        clips: JSON.parse(readFileSync(join(dir, 'clips.json'), 'utf8')),
        report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')),
      };
    }
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  for (const chunker of ['sentence', 'statistical']) {
    describe(`${chunker} chunker`, () => {
      test('speaks only JSON events: progress that never goes back, then done', () => {
        const { events } = builds[chunker]!.run;
        const progress = events.filter((e) => e.event === 'progress').map((e) => e.fraction as number);
        // How many depends on how fast the stages run (a fast machine reports fewer): more than one.
        assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
        for (let i = 1; i < progress.length; i++) {
          assert.ok(progress[i]! >= progress[i - 1]! && progress[i]! <= 1, `${progress[i - 1]} then ${progress[i]}`);
        }
        assert.equal(events.at(-1)!.event, 'done');
        assert.equal(events.filter((e) => e.event !== 'progress').length, 1);
        assert.equal(existsSync(`${builds[chunker]!.dir}.partial`), false);
      });

      test('writes LJSpeech that an independent reader accepts, split into train and eval', () => {
        const { dir, clips } = builds[chunker]!;
        const all = readLJSpeech(dir, 'metadata.csv');
        const train = readLJSpeech(dir, 'metadata_train.csv');
        const evalRows = readLJSpeech(dir, 'metadata_eval.csv');
        const kept = clips.filter((c) => c.status === 'kept');
        assert.ok(kept.length >= 15, `kept ${kept.length}`);
        assert.deepEqual(all.map((r) => r.id).sort(), kept.map((c) => c.id).sort());
        assert.ok(evalRows.length >= 1);
        assert.deepEqual([...train, ...evalRows].map((r) => r.id).sort(), all.map((r) => r.id).sort());
        for (const c of clips) assert.ok(existsSync(join(dir, c.file)), `every clip, dropped too, has audio: ${c.id}`);
      });

      test('kept clips are 3–11.6 s of 22.05 kHz mono PCM16 at −20 ±1 dBFS (sox)', () => {
        const { dir, clips } = builds[chunker]!;
        const levels: number[] = [];
        for (const c of clips.filter((x) => x.status === 'kept')) {
          const w = wavInfo(join(dir, c.file));
          assert.deepEqual([w.format, w.channels, w.rate, w.bits], [1, 1, 22050, 16], c.id);
          assert.ok(w.seconds >= MIN_S && w.seconds <= MAX_S, `${c.id}: ${w.seconds} s`);
          const rms = soxRms(join(dir, c.file));
          levels.push(rms);
          assert.ok(Math.abs(rms - -20) <= 1, `${c.id}: RMS ${rms} dB`);
        }
        const spread = `${Math.min(...levels).toFixed(2)}..${Math.max(...levels).toFixed(2)}`;
        console.log(`${chunker}: ${levels.length} kept clips, sox RMS lev dB ${spread}`);
      });

      test('no clip cuts a word, and clip text is the true span of words (WER printed)', () => {
        const { clips } = builds[chunker]!;
        const errors: Record<string, [number, number]> = {};
        // Kept clips only: inside a noise burst there is no pause to cut in, and those clips go.
        for (const c of clips.filter((x) => x.status === 'kept')) {
          const rec = recs.find((r) => r.id === c.recording)!;
          for (const w of rec.words) {
            for (const t of [c.start_s, c.end_s])
              assert.ok(
                !(w.start < t && t < w.end),
                `${c.id} cuts "${w.text}" (${w.start.toFixed(3)}–${w.end.toFixed(3)}) at ${t}`,
              );
          }
          const truth = rec.words.filter((w) => w.start >= c.start_s && w.end <= c.end_s).map((w) => w.text);
          assert.ok(truth.length > 0, c.id);
          const e = errors[rec.id] ?? [0, 0];
          e[0] += editDistance(words(truth.join(' ')), words(c.text));
          e[1] += words(truth.join(' ')).length;
          errors[rec.id] = e;
        }
        const wer = Object.fromEntries(Object.entries(errors).map(([k, [e, n]]) => [k, e / n]));
        console.log(
          `${chunker}: WER of kept clip text vs true span: r1 (Whisper tiny.en) ${wer.r1!.toFixed(3)}, r2 (user text aligned) ${wer.r2!.toFixed(3)}`,
        );
        assert.ok(wer.r1! <= 0.15, `Whisper text WER ${wer.r1}`);
        assert.ok(wer.r2! <= 0.02, `aligned user text WER ${wer.r2}`);
      });

      test('every planted fault is reported, and no clip over it is kept', () => {
        const { clips, report } = builds[chunker]!;
        const recReports = report.recordings as { id: string; faults: Record<string, number[][]> }[];
        const key = {
          CLIPPING: ['clipping'],
          LONG_SILENCE: ['long_silence'],
          NON_SPEECH: ['noise', 'non_speech'],
          TRANSCRIPT_MISMATCH: ['transcript_mismatch'],
        };
        for (const rec of recs) {
          const faults = recReports.find((r) => r.id === rec.id)!.faults;
          for (const f of rec.faults) {
            const found = key[f.kind]
              .flatMap((k) => faults[k] ?? [])
              .some(([a, b]) => Math.min(b!, f.end) - Math.max(a!, f.start) > 0.2);
            assert.ok(
              found,
              `${rec.id}: ${f.kind} at ${f.start.toFixed(2)}–${f.end.toFixed(2)} reported (${JSON.stringify(faults)})`,
            );
            // A cut may sit inside a silence, keeping up to the padding of it: that is not "over" it.
            const over = clips.filter(
              (c) => c.recording === rec.id && Math.min(c.end_s, f.end) - Math.max(c.start_s, f.start) > 0.5,
            );
            for (const c of over) {
              assert.notEqual(c.status, 'kept', `${c.id} over ${f.kind}`);
              assert.ok(c.reasons.includes(f.kind), `${c.id} has ${f.kind}: ${c.reasons}`);
            }
            console.log(
              `${chunker}: ${f.kind} → ${over.map((c) => `${c.id} ${c.status} [${c.reasons}]`).join(', ') || 'cut around, no clip over it'}`,
            );
          }
        }
      });
    });
  }

  test('a build killed after its first transcription resumes from the cache to the same output', async () => {
    const dir = join(work, 'killed', 'build');
    const file = join(work, 'killed.json');
    writeFileSync(file, JSON.stringify({ ...spec('statistical', dir), work_dir: join(work, 'killed-work') }));
    const env = childEnv({ PYTHONPATH: join(repoRoot, 'trainer') });
    const child = spawn(pythonBinary(), ['-m', 'dataset.build', file], { cwd: repoRoot, env });
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d;
      if (buffered.includes('"transcribed chapter1.wav"')) child.kill('SIGKILL');
    });
    const signal = await new Promise((done) => child.on('close', (_code, sig) => done(sig)));
    assert.equal(signal, 'SIGKILL', 'killed mid-build');
    assert.equal(existsSync(dir), false, 'no half-built dataset');
    const r = await run('dataset.build', { ...spec('statistical', dir), work_dir: join(work, 'killed-work') });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    assert.deepEqual(
      rep.recordings.map((x: { transcript_cached: boolean }) => x.transcript_cached),
      [true, false],
    );
    for (const f of ['metadata.csv', 'metadata_eval.csv', 'clips.json']) {
      assert.equal(readFileSync(join(dir, f), 'utf8'), readFileSync(join(builds.statistical!.dir, f), 'utf8'), f);
    }
  });

  test('a rerun reuses the cached transcription and writes identical output', async () => {
    const dir = join(work, 'again', 'build');
    const r = await run('dataset.build', spec('statistical', dir));
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    assert.ok(rep.recordings.every((x: { transcript_cached: boolean }) => x.transcript_cached));
    for (const f of ['metadata.csv', 'metadata_eval.csv', 'clips.json']) {
      assert.equal(readFileSync(join(dir, f), 'utf8'), readFileSync(join(builds.statistical!.dir, f), 'utf8'), f);
    }
  });

  test('an LJSpeech archive imports through the same filters; traversal is refused', async () => {
    const archive = join(work, 'lj.tar.gz');
    const src = join(work, 'ljsrc', 'build');
    cpSync(builds.sentence!.dir, src, { recursive: true });
    // One line's text no longer matches its audio: the second ASR pass (recheck_wer) must flag it.
    // Eight clips are enough here, and each costs a second transcription.
    const lines = readFileSync(join(src, 'metadata.csv'), 'utf8').split('\n').slice(0, 8);
    const [wrongId] = lines[2]!.split('|');
    lines[2] = `${wrongId}|${WRONG_TEXT}|${WRONG_TEXT}`;
    writeFileSync(join(src, 'metadata.csv'), `${lines.join('\n')}\n`);
    execFileSync('tar', ['czf', archive, '-C', join(work, 'ljsrc'), 'build']);
    const dir = join(work, 'imported', 'build');
    const asr = { model: 'tiny.en-bundled', device: 'cpu' };
    const r = await run('dataset.ljspeech', {
      source: archive,
      out_dir: dir,
      work_dir: join(work, 'lj-work'),
      language: 'en',
      options: { recheck_wer: 0.5, asr },
    });
    assert.equal(r.code, 0, r.stderr);
    const clips: (Clip & { wer: number | null })[] = JSON.parse(readFileSync(join(dir, 'clips.json'), 'utf8'));
    assert.equal(clips.length, 8);
    const wrong = clips.find((c) => c.id === wrongId)!;
    assert.ok(wrong.status === 'flagged' && wrong.reasons.includes('ASR_MISMATCH'), JSON.stringify(wrong));
    // Whisper tiny.en on a clip alone is a noisy second opinion: most clips agree, the wrong one cannot.
    const wers = clips
      .filter((c) => c.id !== wrongId && c.status !== 'dropped')
      .map((c) => c.wer!)
      .sort((x, y) => x - y);
    assert.ok(wers.length >= 5 && wers[Math.floor(wers.length / 2)]! <= 0.15, JSON.stringify(wers));
    assert.ok(wrong.wer! >= 0.8, `wrong line WER ${wrong.wer}`);
    const rows = readLJSpeech(dir, 'metadata.csv');
    assert.ok(rows.length >= 5 && !rows.some((x) => x.id === wrongId));
    for (const row of rows) assert.ok(Math.abs(soxRms(join(dir, 'wavs', `${row.id}.wav`)) + 20) <= 1);
    console.log(`ljspeech import: ${rows.length}/8 kept; recheck WER ${JSON.stringify(wers)}, wrong line ${wrong.wer}`);

    writeFileSync(join(work, 'evil.wav'), wavBytes(new Int16Array(22050)));
    const evil = join(work, 'sub', 'evil.tar');
    execFileSync('mkdir', ['-p', join(work, 'sub')]);
    execFileSync('tar', ['cPf', evil, '-C', join(work, 'sub'), '../evil.wav']);
    const bad = join(work, 'evil-out', 'build');
    const e = await run('dataset.ljspeech', {
      source: evil,
      out_dir: bad,
      work_dir: join(work, 'evil-work'),
      language: 'en',
    });
    assert.equal(e.code, 2, e.stderr);
    assert.equal(e.events.at(-1)!.code, 'ARCHIVE_UNSAFE');
    assert.equal(existsSync(bad), false);
  });

  test('the OpenAI-compatible backend: multipart request, words and punctuation from verbose_json', async () => {
    const rec = recs[0]!;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        seen.push(
          `${req.method} ${req.url} ${req.headers.authorization} ${req.headers['content-type']?.split(';')[0]}`,
        );
        const fields = [
          'response_format"\r\n\r\nverbose_json',
          'timestamp_granularities[]"\r\n\r\nword',
          'filename="audio.wav"',
          'RIFF',
        ];
        const missing = fields.filter((f) => !body.includes(f));
        // What such a service answers: bare timed words, and punctuation only in the segments.
        const words = rec.words.map((w) => ({
          word: w.text.replace(/[.,]/g, '').toLowerCase(),
          start: w.start,
          end: w.end,
        }));
        const segments = [{ text: rec.words.map((w) => w.text).join(' ') }];
        if (missing.length) res.writeHead(400).end(`missing ${missing}`);
        else
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ text: '', words, segments }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { port } = server.address() as AddressInfo;
      const out = join(work, 'openai', 'build');
      const s = spec('sentence', out, [rec]);
      const url = `http://127.0.0.1:${port}/v1`;
      s.options.asr = { backend: 'openai', url, api_key: 'sk-test', model: 'whisper-1' } as never;
      const r = await run('dataset.build', s);
      assert.equal(r.code, 0, r.stderr + JSON.stringify(r.events.at(-1)));
      assert.deepEqual(seen, ['POST /v1/audio/transcriptions Bearer sk-test multipart/form-data']);
      const kept = (JSON.parse(readFileSync(join(out, 'clips.json'), 'utf8')) as Clip[]).filter(
        (c) => c.status === 'kept',
      );
      assert.ok(kept.length >= 10);
      for (const c of kept) {
        const truth = rec.words.filter((w) => w.start >= c.start_s && w.end <= c.end_s).map((w) => w.text);
        assert.equal(c.text, truth.join(' '), c.id);
      }
    } finally {
      server.close();
    }
  });
});
