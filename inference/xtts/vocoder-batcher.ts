/**
 * HiFi-GAN windows of several streams in one run (the package's `hifigan_batch` graph: rows padded to
 * one bucket, each with its own speaker and real length, `frames` [B]).
 *
 * Each window comes with its deadline: when its listener needs its audio (a stream's first window: now,
 * its listener is waiting; a later one: when the audio already sent has played; a whole render's: a
 * second after it asked, RENDER_SLACK_MS). One batched run is in flight at a time; windows that arrive
 * meanwhile wait, and when it ends the bucket of the window due soonest goes next, its windows in order of
 * deadline, the largest power of two of them up to the bucket's rows (rowsFor: `maxRows` windows of
 * ROW_LATENTS latents or more, as many latents' worth of shorter ones; the rest go in the next run), or the
 * next power of two with padding rows where they fill PAD_FILL of it, so a bucket's runs take a few shapes
 * only. Windows already due (a first window; a stream whose audio ran out) do not
 * wait for a run of others to end: while one is in flight, they get a run of their own beside it (one
 * such at a time; short windows, so it ends soon, and the device shares out). Earliest deadline first:
 * a stream with seconds of audio ahead of its listener waits for one whose listener has none.
 * `open(bucket, rows)` gives the session for a shape (the package's gives one per bucket, whose
 * convolutions plan by cuDNN's heuristics: a few ms, not an exhaustive search).
 *
 * A row's samples are those of the window run alone through the batch-1 graph, within float rounding
 * (the graph computes each row as the module does alone: model/test_hifigan.py, vocoder-batcher.test.ts).
 */
import { recordPhase } from '../engine/phase-times.ts';
import type { Session } from '../runtime/index.ts';
import { tensor } from '../runtime/index.ts';

export type VocoderBatcherOptions = {
  /** Windows of ROW_LATENTS latents or more per run at most (default 8; rounded down to a power of two). */
  maxRows?: number;
  /**
   * Windows that can wait at once at most (the streams the worker serves: a stream's windows go one at a
   * time); no larger run is warmed or made. Unset: no limit.
   */
  maxWindows?: number;
};

/**
 * A run of short windows takes as many latents as `maxRows` windows of this many: on an H200 (fp32,
 * bench:vocoder, 2026-12-01) one window of 16 latents took 5.8 ms, of 32 7.6 ms, and 8 of 128 116.6 ms,
 * so a short window run alone costs 2 to 3 times as much per latent; 64 windows of 16 took 115.7 ms and
 * 16 of 32 61.8 ms, the per-latent cost of 8 of 128. Windows of 16 latents (a stream's first two,
 * bucketChunkSchedule) go up to 64 a run with maxRows 8.
 */
export const ROW_LATENTS = 128;

/** The largest power of two not above n (n >= 1): a run's rows, so a bucket's runs take a few shapes only. */
function powerOfTwoAtMost(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/**
 * Windows waiting that fill at least this share of the next power of two of rows go in one run of that
 * many, the rest of its rows padding (zeros, their samples dropped), instead of runs of the powers of two
 * below: at 64 streams on an H200 (2026-12-01) a burst's 63 first windows went as 32, 16, 8, 4, 2 and 1
 * (a stream's first audio waited for HiFi-GAN 112–143 ms at p95) where one run of 64 windows of 8 latents
 * takes 62 ms; the one padded row costs a 64th of that run.
 */
export const PAD_FILL = 7 / 8;

/** How long a window without a deadline (a whole render's) may wait behind streams' (ms). */
export const RENDER_SLACK_MS = 1000;

type Window = {
  fed: number;
  latents: Float32Array;
  frames: number;
  speaker: Float32Array;
  /** When its listener needs it (performance.now() ms). */
  deadline: number;
  /** When it came (performance.now() ms). */
  queued: number;
  resolve: (wav: Float32Array) => void;
  reject: (e: Error) => void;
};

/** What the batcher has run: runs, windows, runs by their number of windows, and padding rows run (PAD_FILL). */
export type VocoderBatchStats = { runs: number; windows: number; sizes: Record<number, number>; padded: number };

export class VocoderBatcher {
  readonly maxRows: number;
  /** No run takes more windows than this (VocoderBatcherOptions.maxWindows, a power of two). */
  private readonly windowCap: number;
  private readonly open: (bucket: number, rows: number) => Promise<Session>;
  private readonly width: number;
  private readonly samples: (fed: number) => number;
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly waiting: Window[] = [];
  private running = false;
  /** A run of due windows only (a first window; a listener out of audio), beside the one above. */
  private dueRunning = false;
  private readonly counts: VocoderBatchStats = { runs: 0, windows: 0, sizes: {}, padded: 0 };

  /**
   * `open(bucket, rows)`: a session of the batched graph for that shape; `samples(fed)`: the samples the
   * graph makes from `fed` latents.
   */
  constructor(
    open: (bucket: number, rows: number) => Promise<Session>,
    width: number,
    samples: (fed: number) => number,
    options: VocoderBatcherOptions = {},
  ) {
    this.open = open;
    this.width = width;
    this.samples = samples;
    this.maxRows = powerOfTwoAtMost(Math.max(1, options.maxRows ?? 8));
    this.windowCap =
      options.maxWindows === undefined
        ? Number.POSITIVE_INFINITY
        : powerOfTwoAtMost(Math.max(this.maxRows, options.maxWindows));
  }

  /**
   * Windows a run of bucket `fed` takes at most: a power of two, `maxRows` at ROW_LATENTS latents and above,
   * no more than maxWindows.
   */
  rowsFor(fed: number): number {
    if (fed >= ROW_LATENTS) return this.maxRows;
    return Math.min(this.windowCap, powerOfTwoAtMost((this.maxRows * ROW_LATENTS) / Math.max(1, fed)));
  }

  get stats(): VocoderBatchStats {
    return { ...this.counts, sizes: { ...this.counts.sizes } };
  }

  /**
   * The samples of one window: `latents` [fed * width] (already padded to its bucket `fed`), `frames` of
   * them real, `speaker` [d]; `deadline`: when its listener needs it (performance.now() ms; unset: a
   * render's, RENDER_SLACK_MS from now). Resolves with the row's whole output (samples(fed)); the caller
   * crops it.
   */
  run(
    fed: number,
    latents: Float32Array,
    frames: number,
    speaker: Float32Array,
    deadline?: number,
  ): Promise<Float32Array> {
    if (latents.length !== fed * this.width)
      return Promise.reject(new Error(`vocoder window: ${latents.length} values for ${fed} latents of ${this.width}`));
    const queued = performance.now();
    const due = deadline ?? queued + RENDER_SLACK_MS;
    return new Promise((resolve, reject) => {
      this.waiting.push({ fed, latents, frames, speaker, deadline: due, queued, resolve, reject });
      this.pump();
    });
  }

  /**
   * Opens and runs every (bucket, rows) shape of these buckets once, so no stream waits for a session's
   * setup or a shape's first planning in its first run. Returns the shapes warmed.
   *
   * Each bucket's shapes run largest first. A session's memory arena (on CUDA, growing by what is asked)
   * keeps what it took: run smallest first, every larger shape finds only smaller free pieces and takes
   * new memory, and the arena ends near the sum of the shapes' needs (on an H200, 2026-12-01, bucket 16's
   * seven shapes grew it by about 2.3 GB, of which its 64-row shape about 0.9 GB); largest first, the
   * smaller shapes fit in the pieces the largest freed.
   */
  async warmUp(buckets: readonly number[], speakerDim: number): Promise<number> {
    let n = 0;
    for (const fed of buckets)
      for (let rows = this.rowsFor(fed); rows >= 1; rows /= 2) {
        const session = await this.session(fed, rows);
        await session.run({
          latents: tensor('float32', new Float32Array(rows * fed * this.width), [rows, fed, this.width]),
          speaker: tensor('float32', new Float32Array(rows * speakerDim), [rows, speakerDim, 1]),
          frames: tensor('int64', new BigInt64Array(rows).fill(BigInt(fed)), [rows]),
        });
        n++;
      }
    return n;
  }

  private pump(): void {
    if (!this.running && this.waiting.length > 0) {
      this.running = true;
      void this.next(false).finally(() => {
        this.running = false;
        this.pump();
      });
    }
    // next() takes its windows before its first await, so these are due windows the run above left.
    if (!this.dueRunning && this.waiting.some(isDue(performance.now()))) {
      this.dueRunning = true;
      void this.next(true).finally(() => {
        this.dueRunning = false;
        this.pump();
      });
    }
  }

  private session(fed: number, rows: number): Promise<Session> {
    const key = `${fed}x${rows}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.open(fed, rows);
      // A failed open is tried again by the next run of that shape.
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** One run: with `dueOnly`, of windows already due alone. Takes its windows before its first await. */
  private async next(dueOnly: boolean): Promise<void> {
    const due = isDue(performance.now());
    // The waiting windows by deadline (a stable sort: equal deadlines in the order they came).
    const order = this.waiting.filter((w) => due(w) || !dueOnly).sort((a, b) => a.deadline - b.deadline);
    const fed = (order[0] as Window).fed;
    const same = order.filter((w) => w.fed === fed);
    // A power of two of rows. Padding rows are whole windows of work for nothing, so unless the windows
    // fill PAD_FILL of the next power of two, the run takes the power of two below and the rest wait for
    // the next run (which starts as soon as this one ends).
    const cap = this.rowsFor(fed);
    const up = Math.min(cap, 2 ** Math.ceil(Math.log2(same.length)));
    const rows = same.length >= up * PAD_FILL ? up : Math.min(cap, powerOfTwoAtMost(same.length));
    const batch = same.slice(0, rows);
    for (const w of batch) this.waiting.splice(this.waiting.indexOf(w), 1);
    try {
      const d = (batch[0] as Window).speaker.length;
      const latents = new Float32Array(rows * fed * this.width);
      const speakers = new Float32Array(rows * d);
      const frames = new BigInt64Array(rows);
      // Padding rows (past the batch): zero latents and speaker, whole length.
      frames.fill(BigInt(fed));
      for (const [r, w] of batch.entries()) {
        latents.set(w.latents, r * fed * this.width);
        speakers.set(w.speaker, r * d);
        frames[r] = BigInt(w.frames);
      }
      const session = await this.session(fed, rows);
      const t0 = performance.now();
      const out = await session.run({
        latents: tensor('float32', latents, [rows, fed, this.width]),
        speaker: tensor('float32', speakers, [rows, d, 1]),
        frames: tensor('int64', frames, [rows]),
      });
      const wav = out.wav?.data as Float32Array | undefined;
      const n = this.samples(fed);
      if (!wav || wav.length !== rows * n)
        throw new Error(`hifigan_batch gave ${wav?.length ?? 'no'} samples for ${rows} rows of ${n}`);
      // For INFERENCE_PROFILE: each run by bucket (its rows the units), and how long the windows that were
      // due when they came (a stream's first; a listener out of audio) waited for their run to start.
      recordPhase(`vocoder run ${fed}`, performance.now() - t0, rows);
      for (const w of batch) if (w.deadline <= w.queued) recordPhase('vocoder due window: wait', t0 - w.queued);
      this.counts.runs++;
      this.counts.windows += batch.length;
      this.counts.padded += rows - batch.length;
      this.counts.sizes[batch.length] = (this.counts.sizes[batch.length] ?? 0) + 1;
      for (const [r, w] of batch.entries()) w.resolve(wav.slice(r * n, (r + 1) * n));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      for (const w of batch) w.reject(err);
    }
  }
}

/** Whether a window is due at `now`: its listener needs its audio already. */
function isDue(now: number): (w: Window) => boolean {
  return (w) => w.deadline <= now;
}
