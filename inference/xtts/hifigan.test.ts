/**
 * HiFi-GAN padding buckets on the tiny fixture package (CPU): the graph takes the real length
 * (`frames`), so a decode padded up to a bucket must give the unpadded decode's waveform, edge
 * included; a graph without that input (packages exported before it) still runs, padded as before.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { checkFeeds, type Session, tensor } from '../runtime/index.ts';
import { bucketFor, DEFAULT_BUCKETS, Hifigan, outputSamples } from './hifigan.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const WIDTH = 32;

/** Seeded latents in about [-2, 2] (xorshift32), `frames` × WIDTH. */
function latents(frames: number, seed = 7): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(frames * WIDTH);
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/**
 * The package's graph as one exported without `frames` behaves: the input is not listed, a feed of
 * it is refused as onnxruntime refuses an unknown input, and every frame fed counts as real (the
 * graph then masks nothing, which is the computation of a graph without masking).
 */
function withoutFrames(s: Session): Session {
  const inputs = s.inputs.filter((i) => i.name !== 'frames');
  return {
    path: s.path,
    inputs,
    outputs: s.outputs,
    run(feeds) {
      const problems = checkFeeds(inputs, feeds);
      if (problems.length > 0) return Promise.reject(new Error(`bad feeds: ${problems.join('; ')}`));
      const fed = feeds.latents?.dims[1] as number;
      return s.run({ ...feeds, frames: tensor('int64', [fed], []) });
    },
    release: () => s.release(),
  };
}

describe('HiFi-GAN padded to buckets (tiny fixture, CPU)', () => {
  let x: Xtts;
  let speaker: Float32Array;
  const lat = latents(700);
  before(async () => {
    x = await Xtts.load(join(fixture, 'package'));
    const b = readFileSync(join(fixture, 'reference', 'speaker.f32'));
    speaker = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
  after(() => x.release());

  it('the exported graph takes the real length', () => {
    const frames = x.pkg.sessions.hifigan.inputs.find((i) => i.name === 'frames');
    assert.deepEqual(frames, { name: 'frames', dtype: 'int64', shape: [] });
    assert.equal(new Hifigan(x.pkg.sessions.hifigan, DEFAULT_BUCKETS).takesFrames, true);
  });

  it('padded and unpadded decodes agree within 1e-5 at every length, edges included', async (t) => {
    const exact = new Hifigan(x.pkg.sessions.hifigan, null);
    const bucketed = new Hifigan(x.pkg.sessions.hifigan, DEFAULT_BUCKETS);
    // 1 and 2 frames, just under, at and just past bucket edges, and past the largest bucket (641 → 768).
    const lengths = [1, 2, 7, 8, 9, 15, 16, 17, 20, 31, 32, 33, 63, 65, 129, 257, 641];
    let worst = 0;
    const errs: string[] = [];
    for (const n of lengths) {
      const a = await exact.decode(lat, n, WIDTH, speaker);
      const b = await bucketed.decode(lat, n, WIDTH, speaker);
      assert.equal(a.length, outputSamples(n), `${n} frames: unpadded length`);
      const err = maxAbsDiff(a, b);
      errs.push(`${n}→${bucketFor(n, DEFAULT_BUCKETS)}: ${err.toExponential(2)}`);
      worst = Math.max(worst, err);
      assert.ok(err <= 1e-5, `${n} frames padded to ${bucketFor(n, DEFAULT_BUCKETS)}: max abs error ${err}`);
    }
    // Speed stretches before the pad: 30 frames at speed 0.8 are 37, padded to 64.
    const a = await exact.decode(lat, 30, WIDTH, speaker, 0.8);
    const b = await bucketed.decode(lat, 30, WIDTH, speaker, 0.8);
    worst = Math.max(worst, maxAbsDiff(a, b));
    assert.ok(maxAbsDiff(a, b) <= 1e-5, `speed 0.8: max abs error ${maxAbsDiff(a, b)}`);
    assert.deepEqual(
      [...bucketed.shapesSeen].sort((p, q) => p - q),
      [8, 16, 32, 64, 128, 256, 384, 768],
    );
    t.diagnostic(`max abs error padded vs unpadded: ${worst} (${errs.join(', ')})`);
  });

  it('a graph without `frames` still runs, padded as before: its last samples differ', async (t) => {
    const old = withoutFrames(x.pkg.sessions.hifigan);
    const exact = new Hifigan(old, null);
    const bucketed = new Hifigan(old, DEFAULT_BUCKETS);
    assert.equal(bucketed.takesFrames, false);
    const current = new Hifigan(x.pkg.sessions.hifigan, null);
    const diag: string[] = [];
    for (const n of [1, 33, 65]) {
      const a = await exact.decode(lat, n, WIDTH, speaker);
      assert.deepEqual(a, await current.decode(lat, n, WIDTH, speaker), `${n} frames unpadded`);
      const b = await bucketed.decode(lat, n, WIDTH, speaker);
      assert.equal(b.length, a.length);
      const err = maxAbsDiff(a, b);
      // The repeated last latent reaches the samples within the convolutions' reach of the end (about 3000 at 24 kHz).
      const early = maxAbsDiff(a, b, 0, Math.max(0, a.length - 4096));
      diag.push(`${n}: ${err.toExponential(2)} (before the last 4096 samples ${early.toExponential(2)})`);
      assert.ok(err > 1e-3, `${n} frames: repeat-last padding should change the edge, max abs error ${err}`);
      assert.ok(early <= 1e-5, `${n} frames: before the edge ${early}`);
    }
    t.diagnostic(`repeat-last padding without frames, max abs error: ${diag.join(', ')}`);
  });
});
