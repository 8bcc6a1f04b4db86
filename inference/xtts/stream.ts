/**
 * Streaming: turns a growing sequence of GPT latents into audio chunks that join without gaps.
 *
 * The reference (`inference_stream`) re-runs HiFi-GAN on *all* latents so far every 20 codes,
 * so the cost of a sentence grows with the square of its length, and it never emits the last
 * 1024 samples. Here each new chunk decodes only a window: the new latents plus enough earlier
 * ones that the window's left edge (where the vocoder sees zero padding) lies well before the
 * first sample it contributes. As in the reference, the last `overlap` samples of a window wait
 * for the next one (they lacked right context) and are crossfaded linearly into it; the final
 * window is emitted to its end.
 */

export type StreamOptions = {
  /** Samples held back from each window and crossfaded into the next (reference: 1024). */
  overlap: number;
  /** Audio before the first emitted sample that each window decodes and throws away. */
  leftContext: number;
  /** Output samples per GPT code: 1024 × 24000 / 22050. */
  samplesPerCode: number;
};

export const DEFAULT_STREAM: StreamOptions = {
  overlap: 1024,
  leftContext: 4096,
  samplesPerCode: (1024 * 24000) / 22050,
};

/**
 * Codes per streamed chunk, by the chunk's index in the utterance: the first `first` codes come
 * alone (time to first audio), each later chunk is `growth` times the one before, up to `max`.
 * Every chunk costs a decode run (the KV cache in and out of the runtime) and a HiFi-GAN window
 * with its left context, so larger later chunks cost less per code; growth below 1 / (the
 * synthesis' real-time factor) keeps each chunk ready before the audio already sent has played.
 * growth 1 keeps every chunk at `first`.
 */
export function chunkSchedule(first: number, growth = 1, max = first): (chunk: number) => number {
  if (!(first >= 1) || !(growth >= 1) || !(max >= first))
    throw new Error(`chunk schedule: need first >= 1, growth >= 1, max >= first (got ${first}, ${growth}, ${max})`);
  return (chunk) => Math.min(max, Math.round(first * growth ** chunk));
}

/**
 * Latents a streamed window holds beyond its chunk's codes: the left context and the held-back overlap,
 * in codes, rounded up, and one for the rounding of the window's start.
 */
export function windowContextCodes(options: StreamOptions = DEFAULT_STREAM): number {
  return Math.ceil((options.leftContext + options.overlap) / options.samplesPerCode) + 1;
}

/**
 * The largest chunk, at least `maxChunk`, whose windows fill their HiFi-GAN bucket: the smallest bucket
 * that holds a window of `maxChunk` codes, less the window's context (with buckets 32, 64, 128 and the
 * default stream, 100 → 122: windows of 128 instead of 105 padded to 128, a fifth of the vocoder's work
 * in the steady state). `maxChunk` itself past the last bucket.
 */
export function chunkForBuckets(
  maxChunk: number,
  buckets: readonly number[],
  options: StreamOptions = DEFAULT_STREAM,
): number {
  const ctx = windowContextCodes(options);
  const b = buckets.find((x) => x >= maxChunk + ctx);
  return b === undefined ? maxChunk : b - ctx;
}

/**
 * Codes per streamed chunk where HiFi-GAN runs padded to `buckets` (CUDA): each window fills its
 * bucket instead of leaving it padded. The first chunk is `first` codes (the time to first audio);
 * each later chunk is a bucket's fill (the bucket less the window's context, windowContextCodes): the
 * largest fill in (previous, growth × previous], else the smallest fill above the previous chunk, up
 * to `max` (which need not be a fill). With buckets 16, 32, 64, 128, a first chunk of 8 and growth
 * 1.5: 8, 10, 26, 58, 122, 122, ... (windows of 8, 15, 31, 63, 127 latents in buckets 16, 16, 32, 64,
 * 128) where chunkSchedule gives 8, 12, 18, 27, 41, 61, 91, 122 (windows of 8, 17, 23, 32, 46, 66, 96
 * padded to 16, 32, 32, 32, 64, 128, 128): latents through HiFi-GAN for a sentence of 100 codes 128
 * instead of 176, of 200 codes 256 instead of 368, of 605 codes 672 instead of 816 (stream.test.ts).
 * The jumps are larger than `growth` where fills lie further apart (10 to 26): on a GPU a code takes a
 * fraction of the audio it makes (at 64 streams on an H200 about 14 ms of decode for 46 ms of audio),
 * so a chunk 2.6 times the last is still ready before the audio already sent has played. On an H200 at
 * 64 streams (README, INFERENCE_STREAM_CHUNKS) 4 to 10 of 128 requests ran out of audio at least once
 * with it, 89 and 104 with chunkSchedule's. growth 1 keeps every chunk at `first`, as chunkSchedule does.
 */
export function bucketChunkSchedule(
  first: number,
  growth: number,
  max: number,
  buckets: readonly number[],
  options: StreamOptions = DEFAULT_STREAM,
): (chunk: number) => number {
  // chunkSchedule also checks the arguments (a max below the first chunk is refused), whatever the growth.
  const plain = chunkSchedule(first, growth, max);
  if (growth === 1) return plain;
  const ctx = windowContextCodes(options);
  const fills = [...new Set([...buckets.map((b) => b - ctx).filter((f) => f >= 1 && f < max), max])].sort(
    (a, b) => a - b,
  );
  const sizes = [first];
  for (let prev = first; prev < max; ) {
    const above = fills.filter((f) => f > prev);
    const within = above.filter((f) => f <= growth * prev);
    prev = within.at(-1) ?? (above[0] as number);
    sizes.push(prev);
  }
  return (chunk) => sizes[Math.min(chunk, sizes.length - 1)] as number;
}

/** Decodes latents [frames * width] of codes [start, start + frames) to audio. */
export type WindowDecoder = (latents: Float32Array, frames: number) => Promise<Float32Array>;

export class StreamChunker {
  readonly width: number;
  readonly options: StreamOptions;
  private readonly decodeWindow: WindowDecoder;
  private latents: Float32Array;
  private frames = 0;
  /** Global samples emitted so far. */
  private emitted = 0;
  /** Held-back samples [emitted, emitted + tail.length) from the last window. */
  private tail = new Float32Array(0);
  /** Windows decoded and their code counts (what the tests and the bench look at). */
  readonly windows: { start: number; frames: number }[] = [];

  constructor(width: number, decodeWindow: WindowDecoder, options: StreamOptions = DEFAULT_STREAM) {
    this.width = width;
    this.decodeWindow = decodeWindow;
    this.options = options;
    this.latents = new Float32Array(64 * width);
  }

  get samplesEmitted(): number {
    return this.emitted;
  }

  private offset(code: number): number {
    return Math.round(code * this.options.samplesPerCode);
  }

  /** Adds latents of new codes; decodes a window and returns the samples now final. */
  async push(latents: Float32Array, frames: number, final: boolean): Promise<Float32Array> {
    this.append(latents, frames);
    if (this.frames === 0) return new Float32Array(0);
    const { overlap, leftContext, samplesPerCode } = this.options;
    const start = Math.max(0, Math.floor((this.emitted - leftContext) / samplesPerCode));
    const n = this.frames - start;
    const audio = await this.decodeWindow(this.latents.slice(start * this.width, this.frames * this.width), n);
    this.windows.push({ start, frames: n });
    const base = this.offset(start);
    const end = base + audio.length;
    const emitEnd = final ? end : Math.max(this.emitted, end - overlap);
    const out = new Float32Array(Math.max(0, emitEnd - this.emitted));
    for (let i = 0; i < out.length; i++) out[i] = audio[this.emitted - base + i] ?? 0;
    // Crossfade the held-back samples (fading out) into the new audio (fading in).
    const fade = Math.min(this.tail.length, out.length);
    const denom = Math.max(1, this.tail.length - 1);
    for (let i = 0; i < fade; i++) {
      const a = i / denom;
      out[i] = (this.tail[i] as number) * (1 - a) + (out[i] as number) * a;
    }
    this.tail = final ? new Float32Array(0) : audio.slice(Math.max(0, emitEnd - base), end - base);
    this.emitted = emitEnd;
    return out;
  }

  private append(latents: Float32Array, frames: number): void {
    const need = (this.frames + frames) * this.width;
    if (need > this.latents.length) {
      const grown = new Float32Array(Math.max(need, this.latents.length * 2));
      grown.set(this.latents.subarray(0, this.frames * this.width));
      this.latents = grown;
    }
    this.latents.set(latents.subarray(0, frames * this.width), this.frames * this.width);
    this.frames += frames;
  }
}

/**
 * Reads `source` ahead of its consumer: before item `i` is handed over, up to `ahead(i)` later items are
 * asked for, so the source works on them while the consumer works on item `i` (a stream's decode runs on
 * while its last run's audio is made). Items, their order and errors are the source's: an error reaches
 * the consumer where its item would have. A consumer that stops early closes the source once the items
 * already asked for have settled (an async generator takes its calls in order).
 */
export async function* readAhead<T>(
  source: AsyncGenerator<T, void, void>,
  ahead: (index: number) => number,
): AsyncGenerator<T, void, void> {
  const asked: Promise<IteratorResult<T, void>>[] = [];
  const ask = () => {
    const p = source.next();
    // Read in order below; one asked for after the consumer stopped is never read.
    p.catch(() => undefined);
    asked.push(p);
  };
  let stopped = false;
  try {
    for (let i = 0; ; i++) {
      if (asked.length === 0) ask();
      const r = await (asked.shift() as Promise<IteratorResult<T, void>>);
      if (r.done) {
        stopped = true;
        return;
      }
      const want = Math.max(0, Math.floor(ahead(i)));
      while (asked.length < want) ask();
      yield r.value;
    }
  } catch (e) {
    stopped = true;
    throw e;
  } finally {
    if (!stopped) await source.return(undefined).catch(() => undefined);
  }
}
