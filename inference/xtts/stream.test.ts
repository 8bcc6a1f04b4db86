/**
 * Streamed chunk sizes (chunkSchedule): the first chunk stays at `streamChunkCodes` codes, later
 * ones grow; the codes for a seed and the first chunk's audio do not depend on the schedule.
 * Tiny fixture package.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { takePhases } from '../engine/phase-times.ts';
import type { VoiceConditioning } from '../engine/types.ts';
import { generateCodes, UniformSource } from './generate.ts';
import { bucketFor, outputSamples } from './hifigan.ts';
import {
  bucketChunkSchedule,
  chunkForBuckets,
  chunkSchedule,
  readAhead,
  StreamChunker,
  windowContextCodes,
} from './stream.ts';
import { STREAM_CHUNK_GROWTH, STREAM_FIRST_CHUNK_CODES, Xtts, type XttsOptions } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const text = 'Hello, world! This is a test.';

describe('chunkSchedule', () => {
  it('keeps the first size, grows later ones by the factor, rounds, and stops at the maximum', () => {
    const s = chunkSchedule(20, 1.5, 100);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(s), [20, 30, 45, 68, 100, 100, 100]);
    const flat = chunkSchedule(20);
    assert.deepEqual([0, 1, 9].map(flat), [20, 20, 20]);
    assert.deepEqual([0, 1, 2, 3].map(chunkSchedule(20, 2, 50)), [20, 40, 50, 50]);
  });

  it('refuses a schedule that shrinks or starts below one code', () => {
    assert.throws(() => chunkSchedule(0, 1.5, 100));
    assert.throws(() => chunkSchedule(20, 0.5, 100));
    assert.throws(() => chunkSchedule(20, 1.5, 10));
  });
});

describe('readAhead', () => {
  /** A source that logs when each item is started and finished, and fails at `failAt` if given. */
  function source(n: number, log: string[], failAt = -1) {
    return (async function* () {
      try {
        for (let i = 0; i < n; i++) {
          log.push(`start ${i}`);
          await new Promise((r) => setTimeout(r, 2));
          if (i === failAt) throw new Error(`item ${i} failed`);
          log.push(`made ${i}`);
          yield i;
        }
      } finally {
        log.push('closed');
      }
    })();
  }

  it("hands over the source's items in order, asking for later ones before the consumer has taken them", async () => {
    const log: string[] = [];
    const got: number[] = [];
    for await (const x of readAhead(source(4, log), (i) => (i === 0 ? 0 : 1))) {
      log.push(`took ${x}`);
      await new Promise((r) => setTimeout(r, 10));
      got.push(x);
    }
    assert.deepEqual(got, [0, 1, 2, 3]);
    // Item 0 alone (ahead 0); from item 1 on, the next one is made while the consumer holds the current.
    assert.ok(log.indexOf('took 0') < log.indexOf('start 1'), log.join(', '));
    assert.ok(log.indexOf('made 2') < log.indexOf('took 2'), log.join(', '));
    assert.ok(log.indexOf('start 2') < log.indexOf('took 2'), log.join(', '));
    assert.ok(log.includes('closed'));
  });

  it('with nothing ahead, asks for each item only when the consumer does', async () => {
    const log: string[] = [];
    for await (const x of readAhead(source(3, log), () => 0)) log.push(`took ${x}`);
    assert.deepEqual(log, [
      'start 0',
      'made 0',
      'took 0',
      'start 1',
      'made 1',
      'took 1',
      'start 2',
      'made 2',
      'took 2',
      'closed',
    ]);
  });

  it("passes the source's error on where its item would have come, after the items before it", async () => {
    const log: string[] = [];
    const got: number[] = [];
    await assert.rejects(async () => {
      for await (const x of readAhead(source(5, log, 2), () => 2)) got.push(x);
    }, /item 2 failed/);
    assert.deepEqual(got, [0, 1]);
    assert.ok(log.includes('closed'));
  });

  it('closes the source when the consumer stops early, after the items asked for have settled', async () => {
    const log: string[] = [];
    for await (const x of readAhead(source(10, log), () => 2)) if (x === 1) break;
    assert.equal(log.at(-1), 'closed');
    // Items 2 and 3 had been asked for; nothing past them was started.
    assert.ok(!log.includes('start 4'), log.join(', '));
  });
});

describe('chunkForBuckets', () => {
  it('grows the largest chunk until its windows fill their HiFi-GAN bucket, and each window stays in it', async () => {
    const buckets = [32, 64, 128, 256];
    const max = chunkForBuckets(100, buckets);
    assert.equal(max, 128 - windowContextCodes());
    assert.equal(chunkForBuckets(100, [32, 64]), 100, 'past the last bucket: unchanged');
    // Every window of a long stream with that schedule, as the chunker cuts them.
    const windows: number[] = [];
    const c = new StreamChunker(1, async (_l, n) => {
      windows.push(n);
      return new Float32Array(outputSamples(n));
    });
    const schedule = chunkSchedule(16, 1.5, max);
    for (let i = 0, sent = 0; sent < 1500; i++) {
      const n = schedule(i);
      await c.push(new Float32Array(n), n, false);
      sent += n;
    }
    const steady = windows.slice(6);
    assert.ok(
      steady.every((n) => n > 120 && n <= 128),
      `windows ${windows.join(', ')}`,
    );
    assert.ok(
      windows.every((n) => n <= 128),
      `windows ${windows.join(', ')}`,
    );
  });
});

describe('bucketChunkSchedule', () => {
  const buckets = [16, 32, 64, 128, 256];
  const max = chunkForBuckets(100, buckets);

  /** The chunks and the HiFi-GAN latents (windows padded to their buckets) of a sentence of `total` codes. */
  async function latents(schedule: (chunk: number) => number, total: number) {
    const windows: number[] = [];
    const chunks: number[] = [];
    const c = new StreamChunker(1, async (_l, n) => {
      windows.push(n);
      return new Float32Array(outputSamples(n));
    });
    for (let i = 0, sent = 0; sent < total; i++) {
      const n = Math.min(schedule(i), total - sent);
      chunks.push(n);
      sent += n;
      await c.push(new Float32Array(n), n, sent >= total);
    }
    return { chunks, windows, padded: windows.reduce((a, n) => a + bucketFor(n, buckets), 0) };
  }

  it('walks up the bucket fills from the first chunk, each window inside its bucket', async () => {
    const s = bucketChunkSchedule(8, 1.5, max, buckets);
    assert.equal(max, 122);
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(s), [8, 10, 26, 58, 122, 122, 122]);
    const { windows } = await latents(s, 605);
    // Every full window but the first (which has no context yet) is within its bucket's last 2 latents.
    for (const n of windows.slice(1, -1)) assert.ok(bucketFor(n, buckets) - n <= 2, `windows ${windows.join(', ')}`);
  });

  it('sends fewer latents through HiFi-GAN than the growth schedule (the figures in its comment)', async () => {
    const grow = chunkSchedule(8, 1.5, max);
    const fill = bucketChunkSchedule(8, 1.5, max, buckets);
    const got: number[][] = [];
    for (const total of [100, 200, 605])
      got.push([(await latents(fill, total)).padded, (await latents(grow, total)).padded]);
    assert.deepEqual(got, [
      [128, 176],
      [256, 368],
      [672, 816],
    ]);
    assert.deepEqual((await latents(grow, 200)).chunks, [8, 12, 18, 27, 41, 61, 33]);
  });

  it('takes the largest fill within the growth, stops at a max that is no fill, and keeps growth 1 flat', () => {
    assert.deepEqual([0, 1, 2, 3].map(bucketChunkSchedule(8, 4, max, buckets)), [8, 26, 58, 122]);
    assert.deepEqual([0, 1, 2, 3, 4].map(bucketChunkSchedule(8, 1.5, 40, buckets)), [8, 10, 26, 40, 40]);
    assert.deepEqual([0, 1, 2].map(bucketChunkSchedule(20, 1, 100, buckets)), [20, 20, 20]);
    assert.throws(() => bucketChunkSchedule(20, 1.5, 10, buckets));
  });
});

describe('streaming with growing chunks (tiny fixture)', () => {
  const open: Xtts[] = [];
  let voice: VoiceConditioning;
  // The schedule's mechanics with a first chunk of 20 codes (the default is STREAM_FIRST_CHUNK_CODES;
  // its own test is last).
  const load = async (o: XttsOptions = {}) => {
    const x = await Xtts.load(join(fixture, 'package'), { streamChunkCodes: 20, ...o });
    open.push(x);
    return x;
  };
  /** The number of codes each decode run was asked for, in order (prefill runs left out). */
  const runSizes = (x: Xtts) => {
    const sizes: number[] = [];
    const decode = x.gpt.decode.bind(x.gpt);
    x.gpt.decode = (cache, uniforms, s) => {
      sizes.push(uniforms.length);
      return decode(cache, uniforms, s);
    };
    return sizes;
  };
  const stream = async (x: Xtts, t = text, seed = 5) => {
    const chunks: Float32Array[] = [];
    for await (const c of x.stream({ text: t, language: 'en', voice, params: { seed } })) chunks.push(c.samples);
    return chunks;
  };

  before(async () => {
    const x = await load();
    voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
  });
  after(async () => {
    for (const x of open) await x.release();
  });

  it('decodes runs of 20, 30, 45 ... codes, while the whole render samples the same codes', async () => {
    const x = await load();
    const limit = x.pkg.manifest.tokens.max_audio_codes;
    const sizes = runSizes(x);
    const chunks = await stream(x);
    // Random weights never stop on their own: the sentence ends at the package's limit.
    const want: number[] = [];
    for (let k = 0, left = limit; left > 0; k++) {
      want.push(Math.min(chunkSchedule(20, 1.5, 100)(k), left));
      left -= want.at(-1) as number;
    }
    assert.deepEqual(sizes, want);
    assert.equal(chunks.length, want.length);
    // The stream's audio is as long as the whole render's (within one hop), which has the same codes.
    const whole = await x.render({ text, language: 'en', voice, params: { seed: 5 } });
    assert.equal(whole.codes[0]?.length, limit);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    assert.ok(Math.abs(total - whole.samples.length) <= 256, `${total} streamed vs ${whole.samples.length}`);
  });

  it("records where each stream's time to first audio went: its first codes, then their HiFi-GAN window", async () => {
    const x = await load();
    takePhases(1000);
    await stream(x);
    await stream(x, text, 6);
    const line = takePhases(1000);
    // Once per stream each; the first run's 20 codes are the codes phase's units.
    assert.match(line, /first audio: codes 2 runs, mean [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms, busy \d+%, 40 units/);
    assert.match(line, /first audio: HiFi-GAN 2 runs, mean [\d.]+ ms/);
  });

  it('samples the same codes whatever the run sizes (schedule, fixed runs)', async () => {
    const x = await load();
    const ids = x.sentenceIds(text, 'en')[0] as number[];
    const p = x.params({ seed: 11 });
    const codes = async (runCodes: number | ((run: number) => number)) => {
      const out: number[] = [];
      for await (const r of generateCodes(x.gpt, { data: voice.gptCondLatent, shape: voice.gptCondShape }, ids, {
        settings: { temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty },
        rng: new UniformSource(11),
        runCodes,
        maxCodes: x.pkg.manifest.tokens.max_audio_codes,
        babbleGuard: null,
      }))
        out.push(...r.codes);
      return out;
    };
    const grown = await codes(chunkSchedule(20, 1.5, 100));
    assert.equal(grown.length, x.pkg.manifest.tokens.max_audio_codes);
    assert.deepEqual(grown, await codes(100));
    assert.deepEqual(grown, await codes(20));
  });

  it('leaves the first chunk as it was, and growth 1 streams chunks of 20 codes as before', async () => {
    const grown = await stream(await load());
    const flat = await load({ streamChunkGrowth: 1 });
    const sizes = runSizes(flat);
    const before = await stream(flat);
    assert.ok(sizes.slice(0, -1).every((n) => n === 20) && (sizes.at(-1) as number) <= 20, `${sizes}`);
    // First chunk: 20 codes of audio minus the 1024 samples held for the crossfade, sample for sample the same.
    assert.equal(grown[0]?.length, outputSamples(20) - 1024);
    assert.deepEqual(grown[0], before[0]);
    // The second chunk holds 30 codes' audio instead of 20.
    const second = (grown[1] as Float32Array).length;
    assert.ok(
      Math.abs(second - 30 * 1114.56) < 1024 && Math.abs((before[1] as Float32Array).length - 20 * 1114.56) < 1024,
    );
  });

  it('runs the schedule on across sentences: a later sentence starts where the last one left off', async () => {
    const x = await load({ maxAudioCodes: 40, sentencePauseSamples: 100 });
    const sizes = runSizes(x);
    const long = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a longer text.`).join(' ');
    const pieces = x.sentenceIds(long, 'en').length;
    assert.ok(pieces >= 2, `${pieces} pieces`);
    await stream(x, long);
    // 40 codes a sentence: 20 + 20 (30 cut to what is left) in the first; the next sentences go on
    // with chunks 2, 3, ...: 45 and 68 codes, each cut to the sentence's 40.
    assert.deepEqual(sizes.slice(0, 4), [20, 20, 40, 40]);
    assert.equal(sizes.length, 2 + (pieces - 1));
  });

  it('with HiFi-GAN buckets the largest chunk fills bucket 128 at speed 1 and above, and stays at 100 below', async () => {
    const x = await Xtts.load(join(fixture, 'package'), { warmUp: false, hifiganBuckets: [32, 64, 128, 256] });
    const plain = await Xtts.load(join(fixture, 'package'), { warmUp: false });
    const set = await Xtts.load(join(fixture, 'package'), {
      warmUp: false,
      hifiganBuckets: [32, 64, 128],
      streamMaxChunkCodes: 90,
    });
    open.push(x, plain, set);
    assert.equal(x.streamMaxChunk(1), 128 - windowContextCodes());
    assert.equal(x.streamMaxChunk(1.5), 128 - windowContextCodes());
    assert.equal(x.streamMaxChunk(0.85), 100);
    assert.equal(plain.streamMaxChunk(1), 100, 'no buckets (CPU): the default');
    assert.equal(set.streamMaxChunk(0.5), 90, 'a size given is kept at every speed');
  });

  it('with HiFi-GAN buckets sizes later chunks to fill them (streamBucketChunks), as many codes', async () => {
    const buckets = [16, 32, 64, 128, 256];
    const [fill, grow] = await Promise.all(
      [true, false].map((streamBucketChunks) =>
        Xtts.load(join(fixture, 'package'), {
          warmUp: false,
          hifiganBuckets: buckets,
          streamChunkCodes: 8,
          streamBucketChunks,
        }),
      ),
    );
    open.push(fill as Xtts, grow as Xtts);
    const runs = [fill as Xtts, grow as Xtts].map(runSizes);
    const audio = [await stream(fill as Xtts), await stream(grow as Xtts)];
    const limit = (fill as Xtts).pkg.manifest.tokens.max_audio_codes;
    const want = (s: (i: number) => number) => {
      const out: number[] = [];
      for (let i = 0, left = limit; left > 0 && out.length < 4; i++) {
        out.push(Math.min(s(i), left));
        left -= s(i);
      }
      return out;
    };
    const max = chunkForBuckets(100, buckets);
    assert.deepEqual(runs[0]?.slice(0, 4), want(bucketChunkSchedule(8, STREAM_CHUNK_GROWTH, max, buckets)));
    assert.deepEqual(runs[1]?.slice(0, 4), want(chunkSchedule(8, STREAM_CHUNK_GROWTH, max)));
    assert.deepEqual(
      runs[0]?.slice(0, 3),
      [8, 10, 26].map((n, i) => Math.min(n, limit - [0, 8, 18][i]!)),
    );
    // As many codes; the audio's length differs by a window's rounding of its start (samples per code
    // are not whole), here a few tens of samples.
    assert.equal(
      runs[0]?.reduce((a, n) => a + n, 0),
      runs[1]?.reduce((a, n) => a + n, 0),
    );
    const total = (chunks: Float32Array[]) => chunks.reduce((a, c) => a + c.length, 0);
    assert.ok(Math.abs(total(audio[0] as Float32Array[]) - total(audio[1] as Float32Array[])) < 256);
    // Below speed 1 windows are stretched past their buckets: the growth schedule.
    const slow = runSizes(fill as Xtts);
    for await (const _ of (fill as Xtts).stream({ text, language: 'en', voice, params: { seed: 5, speed: 0.85 } })) {
    }
    assert.deepEqual(slow.slice(0, 3), want(chunkSchedule(8, STREAM_CHUNK_GROWTH, 100)).slice(0, 3));
  });

  it('by default streams a first chunk of STREAM_FIRST_CHUNK_CODES codes, then grows by STREAM_CHUNK_GROWTH', async () => {
    const x = await Xtts.load(join(fixture, 'package'));
    open.push(x);
    const sizes = runSizes(x);
    await stream(x);
    const s = chunkSchedule(STREAM_FIRST_CHUNK_CODES, STREAM_CHUNK_GROWTH, 100);
    const limit = x.pkg.manifest.tokens.max_audio_codes;
    assert.deepEqual(sizes.slice(0, 3), [s(0), s(1), Math.min(s(2), limit - s(0) - s(1))]);
    assert.equal(sizes[0], STREAM_FIRST_CHUNK_CODES);
  });
});
