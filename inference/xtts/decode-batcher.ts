/**
 * Continuous batching of GPT decode runs across the generations sharing one loaded package.
 *
 * Each generation calls `decode(cache, uniforms, settings)` exactly as it would call
 * `Gpt.decode`. Calls that arrive while a run is in progress wait; when the device is free, the
 * waiting calls (up to `maxBatch`) go to `decodeMany` together and each caller gets its own result.
 * A sequence joins with its prefill (through `generate`) or its first call, and leaves with
 * `release` (which `generate` makes however the generation ends): batches form between runs, never
 * inside one.
 *
 * Between runs every generation does its own work (its HiFi-GAN window, the chunk it sends, the
 * next sentence's prefill), so the calls of one round do not arrive at once. The batcher starts a
 * run as soon as every open sequence (and every one in its prefill, through `generate`) is waiting,
 * or `maxBatch` are; otherwise it waits at most `gatherMs` after the first waiting call for the
 * others. In a worker thread, where onnxruntime's runs hold the thread, the
 * others' work is what runs during that wait, so waiting costs the device nothing.
 *
 * Results never depend on batch-mates: each call carries its own uniforms (from its own seeded
 * RNG) and sampling settings, and a failed item fails only its caller where the implementation
 * can tell items apart.
 */
import type { DecodeResult, DecodeSettings, Gpt, GptKvCache } from './gpt.ts';

export type DecodeItem = { cache: GptKvCache; uniforms: Float32Array; settings: DecodeSettings };

/** How a batch of decode calls runs: one result (or the error of that item) per item, in order. */
export interface DecodeMany {
  decodeMany(items: readonly DecodeItem[]): Promise<(DecodeResult | Error)[]>;
  /** The sequence of `cache` will not decode again (it ended, failed or was cancelled). */
  release?(cache: GptKvCache): void;
}

/** Today's batch-1 graph, one item after the other: the CPU path and packages without a batched graph. */
export function sequentialDecode(gpt: Pick<Gpt, 'decode'>): DecodeMany {
  return {
    async decodeMany(items) {
      const out: (DecodeResult | Error)[] = [];
      for (const it of items) {
        try {
          out.push(await gpt.decode(it.cache, it.uniforms, it.settings));
        } catch (e) {
          out.push(e instanceof Error ? e : new Error(String(e)));
        }
      }
      return out;
    },
  };
}

/**
 * The batched decode graph's driver as the batcher needs it (structurally, the `BatchedGpt` of
 * batch.ts): a sequence joins with its batch-1 cache (which the driver takes over) and gets an id;
 * one `decode` advances the named members, each by up to its uniforms' length; `drop` forgets one.
 */
export interface BatchedDriver {
  join(cache: GptKvCache): number;
  decode(
    requests: readonly { id: number; uniforms: Float32Array; settings: DecodeSettings }[],
  ): Promise<Map<number, DecodeResult>>;
  has(id: number): boolean;
  drop(id: number): void;
}

/**
 * The batched graph behind the batcher: a cache joins the driver on its first call (its state moves
 * into the driver; the generation keeps the disposed object only as its handle) and is dropped on
 * release. A run that fails fails every item of it.
 */
export function batchedDecode(driver: BatchedDriver): DecodeMany {
  const members = new WeakMap<GptKvCache, number>();
  return {
    async decodeMany(items) {
      const requests = items.map((it) => {
        let id = members.get(it.cache);
        if (id === undefined) {
          id = driver.join(it.cache);
          members.set(it.cache, id);
        }
        return { id, uniforms: it.uniforms, settings: it.settings };
      });
      let out: Map<number, DecodeResult>;
      try {
        out = await driver.decode(requests);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        return items.map(() => err);
      }
      return requests.map((r) => out.get(r.id) ?? new Error(`batched decode returned nothing for member ${r.id}`));
    },
    release(cache) {
      const id = members.get(cache);
      if (id !== undefined && driver.has(id)) driver.drop(id);
      members.delete(cache);
    },
  };
}

export type BatcherOptions = {
  /** Sequences per decode run at most (default 16). */
  maxBatch?: number;
  /** Longest wait, after the first waiting call, for the other open sequences (default 5 ms). */
  gatherMs?: number;
};

/** What the batcher has done: runs, the sequences they carried, and how many runs had each size. */
export type BatcherStats = { runs: number; sequences: number; largest: number; sizes: Record<number, number> };

/** What Xtts and the engine's worker use of a batcher (DecodeBatcher here, StepBatcher in step-batcher.ts). */
export interface DecodeBatcherLike {
  generate<T>(own: Gpt, run: (gpt: Gpt) => AsyncGenerator<T, void, void>): AsyncGenerator<T, void, void>;
  readonly stats: BatcherStats;
  readonly sequences: number;
  onRun: ((size: number) => void) | null;
}

/**
 * What both batchers share: the run statistics, `onRun`, and `generate` (a generation whose decode calls
 * go through the batcher and whose sequence is released however it ends), with hooks around its prefill.
 */
export abstract class BatcherBase implements DecodeBatcherLike {
  private readonly counts: BatcherStats = { runs: 0, sequences: 0, largest: 0, sizes: {} };
  /** Called after every run with the number of sequences it carried. */
  onRun: ((size: number) => void) | null = null;

  get stats(): BatcherStats {
    return { ...this.counts, sizes: { ...this.counts.sizes } };
  }

  abstract get sequences(): number;
  /** `Gpt.decode` through the batcher. */
  abstract decode(cache: GptKvCache, uniforms: Float32Array, settings: DecodeSettings): Promise<DecodeResult>;
  /** The sequence of `cache` is done. */
  abstract release(cache: GptKvCache): void;

  /** Around a generation's prefill: before it, with its cache when it succeeded, and after it however it ended. */
  protected prefillStarted(): void {}
  protected prefilled(_cache: GptKvCache): void {}
  protected prefillEnded(): void {}

  /** Counts a run of `size` sequences and tells `onRun` (after the run's calls are answered). */
  protected countRun(size: number): void {
    this.counts.runs++;
    this.counts.sequences += size;
    this.counts.largest = Math.max(this.counts.largest, size);
    this.counts.sizes[size] = (this.counts.sizes[size] ?? 0) + 1;
    this.onRun?.(size);
  }

  /**
   * Runs one generation (generateCodes or anything that drives a Gpt) with its decode runs going
   * through this batcher: it gets the same GPT except `decode`, and the cache its prefill made is
   * released here however the generation ends (stop code, limit, guard, cancellation, error).
   */
  async *generate<T>(own: Gpt, run: (gpt: Gpt) => AsyncGenerator<T, void, void>): AsyncGenerator<T, void, void> {
    let cache: GptKvCache | null = null;
    // Everything else (prefill's sessions, stopCode, ...) is the package's own GPT, through the prototype.
    const gpt = Object.create(own) as Gpt;
    gpt.prefill = async (...args) => {
      this.prefillStarted();
      try {
        const r = await own.prefill(...args);
        cache = r.cache;
        this.prefilled(r.cache);
        return r;
      } finally {
        this.prefillEnded();
      }
    };
    gpt.decode = (c, u, s) => this.decode(c, u, s);
    try {
      yield* run(gpt);
    } finally {
      if (cache) this.release(cache);
    }
  }
}

type Waiting = DecodeItem & { resolve: (r: DecodeResult) => void; reject: (e: Error) => void };

export class DecodeBatcher extends BatcherBase {
  readonly maxBatch: number;
  readonly gatherMs: number;
  private readonly impl: DecodeMany;
  private readonly waiting: Waiting[] = [];
  /** Sequences that have prefilled or decoded and not been released: the ones a run waits for. */
  private readonly open = new Set<GptKvCache>();
  /** Generations in their prefill now (through `generate`): about to join, so also waited for. */
  private joining = 0;
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(impl: DecodeMany, options: BatcherOptions = {}) {
    super();
    this.impl = impl;
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 16));
    this.gatherMs = Math.max(0, options.gatherMs ?? 5);
  }

  /** Sequences open now (prefilled through `generate` or decoded at least once, and not released). */
  get sequences(): number {
    return this.open.size;
  }

  // A generation in its prefill is about to join: runs wait for it too.
  protected override prefillStarted(): void {
    this.joining++;
  }
  protected override prefilled(cache: GptKvCache): void {
    this.open.add(cache);
  }
  protected override prefillEnded(): void {
    this.joining--;
    this.pump();
  }

  /** `Gpt.decode`, batched with whatever other sequences are waiting. */
  decode(cache: GptKvCache, uniforms: Float32Array, settings: DecodeSettings): Promise<DecodeResult> {
    if (this.waiting.some((w) => w.cache === cache))
      return Promise.reject(new Error('a sequence already has a decode call waiting'));
    this.open.add(cache);
    return new Promise<DecodeResult>((resolve, reject) => {
      this.waiting.push({ cache, uniforms, settings, resolve, reject });
      this.pump();
    });
  }

  /** The sequence of `cache` is done: runs stop waiting for it and the implementation forgets it. */
  release(cache: GptKvCache): void {
    if (!this.open.delete(cache)) return;
    const at = this.waiting.findIndex((w) => w.cache === cache);
    if (at >= 0) this.waiting.splice(at, 1)[0]?.reject(new Error('sequence released while waiting to decode'));
    this.impl.release?.(cache);
    this.pump();
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    const everyone = this.waiting.length >= Math.min(this.maxBatch, this.open.size + this.joining);
    if (!everyone && this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.start();
      }, this.gatherMs);
      return;
    }
    if (everyone) void this.start();
  }

  private async start(): Promise<void> {
    if (this.running || this.waiting.length === 0) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.running = true;
    const batch = this.waiting.splice(0, this.maxBatch);
    try {
      let results: (DecodeResult | Error)[];
      try {
        results = await this.impl.decodeMany(batch);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        results = batch.map(() => err);
      }
      for (const [i, w] of batch.entries()) {
        const r = results[i];
        if (r === undefined) w.reject(new Error('decodeMany returned fewer results than items'));
        else if (r instanceof Error) w.reject(r);
        else w.resolve(r);
      }
      this.countRun(batch.length);
    } finally {
      this.running = false;
      // Calls that queued during the run form the next one (after their owners' own work, above).
      this.pump();
    }
  }
}
