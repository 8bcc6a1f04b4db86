/**
 * HiFi-GAN: GPT latents [T, width] and the speaker embedding → 24 kHz waveform, with the
 * reference's speed control (latents stretched in time by 1/speed before the vocoder).
 *
 * With `buckets`, inputs are padded up to one of a few fixed lengths so that cuDNN searches
 * convolution algorithms once per bucket rather than once per length. onnxruntime's CUDA Conv
 * keeps the plan of the last input shape only (measured on an H100: about 1 s whenever the length
 * differs from the previous call's, 5 ms when it does not), so each bucket gets a session of its
 * own, and every session keeps seeing one shape.
 *
 * A graph with a `frames` input (int64 scalar, the number of real latents) makes padding change
 * nothing: it reads the last real latent wherever its interpolation would read past it, and zeroes
 * every convolution's input past the real length at that layer's resolution, so the samples kept
 * equal an unpadded run's (within 1e-5, hifigan.test.ts). A graph exported without that input (older
 * packages) still runs, fed as before: the pad repeats the last latent, which keeps the linear
 * upsampling exact up to the real length, but the convolutions see that pad instead of zeros, so
 * the last ~0.05 s differ from an unpadded run and exact-parity runs leave buckets off.
 */
import { timed } from '../engine/phase-times.ts';
import { type Session, tensor } from '../runtime/index.ts';
import type { VocoderBatcher } from './vocoder-batcher.ts';

/**
 * The engine's buckets on CUDA (INFERENCE_VOCODER_BUCKETS sets others). 8 holds a stream's first window
 * (its first chunk of 8 codes, no left context yet) without padding: on an H200 (fp32, 2026-12-01) 64
 * such windows took 61.7 ms a run against 116.6 as windows of 16, and at 64 streams a stream's first
 * audio waited for HiFi-GAN 107 / 164 ms (mean / p95) against 167 / 248 with 16 the smallest.
 */
export const DEFAULT_BUCKETS: readonly number[] = [8, 16, 32, 64, 128, 256, 384, 512, 640];

/** PyTorch's F.interpolate(mode='linear', align_corners=False, scale_factor=s) over time. */
export function stretchLatents(latents: Float32Array, frames: number, width: number, scale: number): Float32Array {
  const outFrames = Math.floor(frames * scale);
  const out = new Float32Array(outFrames * width);
  // PyTorch maps output to input coordinates with 1/scale_factor in the tensor's dtype.
  const inv = Math.fround(1 / scale);
  for (let j = 0; j < outFrames; j++) {
    const src = Math.max(0, Math.fround(Math.fround(inv * (j + 0.5)) - 0.5));
    const i0 = Math.floor(src);
    const i1 = i0 < frames - 1 ? i0 + 1 : i0;
    const l1 = Math.fround(src - i0);
    const l0 = Math.fround(1 - l1);
    for (let c = 0; c < width; c++) {
      out[j * width + c] = l0 * (latents[i0 * width + c] as number) + l1 * (latents[i1 * width + c] as number);
    }
  }
  return out;
}

/** Samples the graph makes from T latents: 256 × floor(4T · 24000 / 22050). */
export function outputSamples(frames: number, hop = 256, inRate = 22050, outRate = 24000, codeHop = 1024): number {
  return hop * Math.floor(((codeHop / hop) * frames * outRate) / inRate);
}

export function bucketFor(frames: number, buckets: readonly number[]): number {
  for (const b of buckets) if (b >= frames) return b;
  // Past the largest bucket: multiples of 128, still a small set of shapes.
  return Math.ceil(frames / 128) * 128;
}

export class Hifigan {
  readonly session: Session;
  readonly buckets: readonly number[] | null;
  /** Whether the graph takes the real length (`frames`): padded runs then equal unpadded ones. */
  readonly takesFrames: boolean;
  /** Lengths fed so far: with buckets on, this stays small. */
  readonly shapesSeen = new Set<number>();
  /** With buckets: one session per bucket (opened on first use); lengths past the last share one. */
  private readonly perBucket = new Map<number, Promise<Session>>();
  private readonly openMore: ((bucket: number) => Promise<Session>) | undefined;
  /**
   * Runs padded windows of several callers together (the package's hifigan_batch graph), where set and
   * buckets are on; null: each window runs alone.
   */
  batcher: VocoderBatcher | null = null;

  constructor(session: Session, buckets: readonly number[] | null, openMore?: (bucket: number) => Promise<Session>) {
    this.session = session;
    this.buckets = buckets;
    this.openMore = openMore;
    this.takesFrames = session.inputs.some((i) => i.name === 'frames');
  }

  private sessionFor(fed: number): Promise<Session> {
    const last = this.buckets?.at(-1);
    if (!this.buckets || !this.openMore || last === undefined) return Promise.resolve(this.session);
    const key = fed > last ? -1 : fed;
    let s = this.perBucket.get(key);
    if (!s) {
      s = this.openMore(key);
      this.perBucket.set(key, s);
    }
    return s;
  }

  /**
   * Opens and runs the sessions of the first `count` buckets once, so their setup (about 1 s
   * each on an H100) happens at load instead of inside a listener's first request. Streaming
   * decodes windows of its chunks plus about 5 codes of left context, and the chunks grow from 8
   * to 122 codes (xtts.ts, bucketChunkSchedule), so every stream meets the buckets up to 128 (the
   * first five of DEFAULT_BUCKETS; Xtts.streamBuckets counts them); longer ones (whole
   * renders) open on first use. With the batcher, every (bucket, rows) shape of those buckets. Returns
   * the shapes warmed; 0 without buckets.
   */
  async warmUp(width: number, speakerDim: number, count: number): Promise<number> {
    if (!this.buckets || !this.openMore) return 0;
    const buckets = this.buckets.slice(0, count);
    if (this.batcher && this.takesFrames) return this.batcher.warmUp(buckets, speakerDim);
    const speaker = new Float32Array(speakerDim);
    for (const b of buckets) await this.decode(new Float32Array(b * width), b, width, speaker);
    return buckets.length;
  }

  /** latents: [frames * width]; speaker: [d] (fed as [1, d, 1]). */
  async decode(
    latents: Float32Array,
    frames: number,
    width: number,
    speaker: Float32Array,
    speed = 1,
    /**
     * When the listener needs this window's audio (performance.now() ms; a stream's first window: now):
     * where windows wait to share a run, the one due soonest goes first (VocoderBatcher). Unset: a render's.
     */
    deadline?: number,
  ): Promise<Float32Array> {
    let x = latents.subarray(0, frames * width);
    let t = frames;
    if (speed !== 1) {
      const scale = 1 / Math.max(speed, 0.05);
      x = stretchLatents(x, t, width, scale);
      t = Math.floor(t * scale);
    }
    if (t === 0) return new Float32Array(0);
    const fed = this.buckets ? bucketFor(t, this.buckets) : t;
    if (fed > t) {
      // Repeating the last latent is what a graph without `frames` needs; one with it ignores the pad.
      const padded = new Float32Array(fed * width);
      padded.set(x);
      const last = x.subarray((t - 1) * width, t * width);
      for (let i = t; i < fed; i++) padded.set(last, i * width);
      x = padded;
    }
    this.shapesSeen.add(fed);
    const batcher = this.batcher;
    const data = await timed(
      'hifigan',
      async () => {
        // Several streams' windows of one bucket share a run (vocoder-batcher.ts).
        if (batcher && this.buckets && this.takesFrames) return batcher.run(fed, x, t, speaker, deadline);
        const session = await this.sessionFor(fed);
        const out = await session.run({
          latents: tensor('float32', x, [1, fed, width]),
          speaker: tensor('float32', speaker, [1, speaker.length, 1]),
          ...(this.takesFrames ? { frames: tensor('int64', [t], []) } : {}),
        });
        if (!out.wav) throw new Error('hifigan returned no wav');
        return out.wav.data as Float32Array;
      },
      () => fed,
    );
    const want = outputSamples(t);
    return data.length > want ? data.slice(0, want) : data;
  }
}
