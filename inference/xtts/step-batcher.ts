/**
 * Continuous batching at the step level, for a batched driver whose runs are cheap to start (the
 * fixed-shape step of native/static.ts: its state stays in place on the device and one run is a
 * replayed CUDA graph per step).
 *
 * DecodeBatcher (decode-batcher.ts) forms a batch from the calls waiting when the device is free and
 * runs it until every call in it has all the codes it asked for: a stream that asks for 100 codes
 * holds the others' next chunk, and one that arrives meanwhile waits for the whole run before its
 * first step. Here the driver runs in windows of a few steps (`windowSteps`): each window advances
 * every sequence that has a call open by up to that many codes, a call is answered as soon as it has
 * its codes (or its stop code), and a sequence that calls or joins during a window is in the next one.
 * So a stream's first codes wait at most one window for a place, and no stream waits for another's
 * chunk to end. A sequence the driver has no free slot for (its join refused with code ERR_STATIC_FULL,
 * as StaticGpt refuses one) waits until a sequence is released; the engine gives a worker as many slots
 * as streams, so there it never waits.
 *
 * Results never depend on batch-mates: each call carries its own uniforms (from its own seeded RNG)
 * and sampling settings, each window hands a call the next slice of them, and the driver's rows are
 * computed independently of one another. How a call was cut into windows changes nothing either: the
 * driver continues a sequence from its state exactly where the last window left it (the tests compare
 * the codes with those of single calls).
 */
import { recordPhase } from '../engine/phase-times.ts';
import { type BatchedDriver, BatcherBase } from './decode-batcher.ts';
import type { DecodeResult, DecodeSettings, GptKvCache } from './gpt.ts';

export type StepBatcherOptions = {
  /**
   * The model's stop code: a window whose last code is it ends its call (the driver stops the row
   * there; a stop on the window's last step comes back as a full window).
   */
  stopCode: number;
  /** Steps per window at most (default 8): how long a new call may wait for its place. */
  windowSteps?: number;
  /** Sequences per window at most (default 16: the driver's slots). */
  maxBatch?: number;
  /**
   * Before each window, wait up to `waitMs` for the prompt passes in flight (`prefills`, the Gpt's) to
   * end: a burst's prompts then run with the device to themselves instead of beside the decode of the
   * first streams to join, and the burst joins in fewer windows. Unset: windows never wait.
   */
  prefillFirst?: { waitMs: number; prefills: PrefillsInFlight };
};

/** What prefillFirst watches: the Gpt's prompt passes. */
export type PrefillsInFlight = { readonly prefillsInFlight: number; prefillsIdle(): Promise<void> };

type Call = {
  cache: GptKvCache;
  uniforms: Float32Array;
  settings: DecodeSettings;
  /** Uniforms used so far (codes made for this call). */
  used: number;
  codes: number[];
  latents: Float32Array[];
  width: number;
  resolve: (r: DecodeResult) => void;
  reject: (e: Error) => void;
  /** When it came (performance.now() ms). */
  at: number;
};

export class StepBatcher extends BatcherBase {
  readonly windowSteps: number;
  readonly maxBatch: number;
  readonly stopCode: number;
  private readonly driver: BatchedDriver;
  /** The driver's id of each sequence that has joined it. */
  private readonly members = new Map<GptKvCache, number>();
  private readonly prefillFirst: StepBatcherOptions['prefillFirst'];
  /** Open calls, in arrival order (a sequence has at most one). */
  private readonly calls: Call[] = [];
  private running = false;

  constructor(driver: BatchedDriver, options: StepBatcherOptions) {
    super();
    this.driver = driver;
    this.stopCode = options.stopCode;
    this.windowSteps = Math.max(1, Math.floor(options.windowSteps ?? 8));
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 16));
    this.prefillFirst = options.prefillFirst;
  }

  /** Sequences that have joined the driver and not been released. */
  get sequences(): number {
    return this.members.size;
  }

  /** `Gpt.decode`: answered once the sequence has `uniforms.length` codes or its stop code. */
  override decode(cache: GptKvCache, uniforms: Float32Array, settings: DecodeSettings): Promise<DecodeResult> {
    if (this.calls.some((c) => c.cache === cache))
      return Promise.reject(new Error('a sequence already has a decode call open'));
    return new Promise<DecodeResult>((resolve, reject) => {
      const call: Call = {
        cache,
        uniforms,
        settings,
        used: 0,
        codes: [],
        latents: [],
        width: 0,
        resolve,
        reject,
        at: performance.now(),
      };
      if (uniforms.length === 0) {
        resolve({ codes: [], latents: new Float32Array(0), width: 0 });
        return;
      }
      this.calls.push(call);
      this.pump();
    });
  }

  /** The sequence is done: its open call (if any) is refused and the driver forgets it. */
  override release(cache: GptKvCache): void {
    const at = this.calls.findIndex((c) => c.cache === cache);
    if (at >= 0) this.calls.splice(at, 1)[0]?.reject(new Error('sequence released while waiting to decode'));
    const id = this.members.get(cache);
    if (id !== undefined) {
      this.members.delete(cache);
      if (this.driver.has(id)) this.driver.drop(id);
      // A call waiting for a slot may have one now.
      this.pump();
    }
  }

  private pump(): void {
    if (this.running || this.calls.length === 0) return;
    this.running = true;
    void this.loop();
  }

  /** Windows back to back while any call is open. */
  private async loop(): Promise<void> {
    try {
      while (this.calls.length > 0) {
        try {
          // Nothing could run (every open call waits for a slot): a release pumps again.
          if (!(await this.window())) break;
        } catch (e) {
          // Nothing in a window should throw past its own handling; if something does, no call waits forever.
          for (const c of [...this.calls]) this.fail(c, e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** One window; false when no call could run (each one waits for a free slot). */
  private async window(): Promise<boolean> {
    const first = this.prefillFirst;
    if (first && first.waitMs > 0 && first.prefills.prefillsInFlight > 0) {
      const w0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        first.prefills.prefillsIdle(),
        new Promise<void>((ok) => {
          timer = setTimeout(ok, first.waitMs);
        }),
      ]);
      clearTimeout(timer);
      recordPhase('decode window: wait for prompts', performance.now() - w0);
      // A call may have been released meanwhile; nothing else changed what the window takes.
      if (this.calls.length === 0) return true;
    }
    const requests: { id: number; uniforms: Float32Array; settings: DecodeSettings }[] = [];
    const inWindow: Call[] = [];
    // The calls whose sequence joins in this window (their first codes: INFERENCE_PROFILE's phases).
    const joining: Call[] = [];
    for (const c of [...this.calls]) {
      if (inWindow.length >= this.maxBatch) break;
      let id = this.members.get(c.cache);
      if (id === undefined) {
        try {
          id = this.driver.join(c.cache);
          this.members.set(c.cache, id);
          joining.push(c);
        } catch (e) {
          // No free slot: the call waits for a sequence to be released. Any other refusal fails it.
          if ((e as { code?: unknown }).code !== 'ERR_STATIC_FULL') this.fail(c, e);
          continue;
        }
      }
      const n = Math.min(this.windowSteps, c.uniforms.length - c.used);
      requests.push({ id, uniforms: c.uniforms.subarray(c.used, c.used + n), settings: c.settings });
      inWindow.push(c);
    }
    if (requests.length === 0) return this.calls.length === 0;
    let out: Map<number, DecodeResult>;
    const t0 = performance.now();
    try {
      out = await this.driver.decode(requests);
    } catch (e) {
      for (const c of inWindow) this.fail(c, e);
      return true;
    }
    let made = 0;
    for (const r of out.values()) made += r.codes.length;
    const t1 = performance.now();
    recordPhase('decode window', t1 - t0, made);
    // A joining sequence's first codes: the wait from its call to this window (the join included, which
    // the driver makes at the window's start), then the window itself.
    for (const c of joining) {
      recordPhase('first window: wait', t0 - c.at);
      recordPhase('first window: run', t1 - t0);
    }
    for (const [i, c] of inWindow.entries()) {
      // Released during the window: its call was already refused.
      if (!this.calls.includes(c)) continue;
      const r = out.get((requests[i] as { id: number }).id);
      if (!r) {
        this.fail(c, new Error('batched decode returned nothing for a member'));
        continue;
      }
      const asked = (requests[i] as { uniforms: Float32Array }).uniforms.length;
      c.codes.push(...r.codes);
      c.latents.push(r.latents.subarray(0, r.codes.length * r.width));
      c.width = r.width;
      c.used += r.codes.length;
      // The stop code came (it is the last one: fewer codes than asked, or on the window's last step).
      if (r.codes.length < asked || r.codes.at(-1) === this.stopCode || c.used >= c.uniforms.length) this.answer(c);
    }
    this.countRun(requests.length);
    return true;
  }

  private answer(c: Call): void {
    this.calls.splice(this.calls.indexOf(c), 1);
    const latents = new Float32Array(c.codes.length * c.width);
    let at = 0;
    for (const l of c.latents) {
      latents.set(l, at);
      at += l.length;
    }
    c.resolve({ codes: c.codes, latents, width: c.width });
  }

  private fail(c: Call, e: unknown): void {
    const at = this.calls.indexOf(c);
    if (at >= 0) this.calls.splice(at, 1);
    c.reject(e instanceof Error ? e : new Error(String(e)));
  }
}
