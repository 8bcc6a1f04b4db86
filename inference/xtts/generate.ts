/**
 * One sentence's code generation: prefill, then decode runs of `runCodes` codes until the stop
 * code, the length limit (602 codes) or, when asked, the babble guard. The seeded RNG is owned
 * here and advanced by exactly one draw per generated code, so the codes for a seed do not
 * depend on how the decode was cut into runs (streaming and non-streaming agree).
 */
import { Rng, type RngState } from '../generation/rng.ts';
import {
  firstStop,
  repeatRun,
  type StoppingCriterion,
  type StopReason,
  tooLongForText,
} from '../generation/stopping.ts';
import { type DecodeSettings, type Gpt, GptKvCache } from './gpt.ts';

export type BabbleGuard = { maxRepeatRun: number; maxCodesPerTextToken: number };

export type GenerateOptions = {
  settings: DecodeSettings;
  rng: UniformSource;
  /**
   * Codes per decode run (the streaming chunk size): one size for every run, or the size of each
   * run by its index (0 is the first run after the prefill).
   */
  runCodes: number | ((run: number) => number);
  maxCodes: number;
  babbleGuard: BabbleGuard | null;
  /** Checked between runs; throwing from it ends generation. */
  checkCancelled?: () => void;
  /**
   * Ask for the next run before yielding this one (default false; from the second run on): where
   * decode runs elsewhere (a batcher on a device), the next codes are made while the caller turns
   * these into audio. The codes are the same: the next run starts from the state and RNG position
   * this one left.
   */
  prefetch?: boolean;
  /**
   * With `prefetch`, whether to ask for the second run before the first one's audio too, asked when the
   * first run ends: where the decode is shared with other sequences (the device is busy beside the first
   * window's HiFi-GAN anyway), the sequence then keeps its place in the decode instead of sitting out
   * until its first audio is made. Unset: never (a lone sequence's first window runs without a decode
   * beside it: its time to first audio).
   */
  prefetchFirst?: () => boolean;
};

export type CodeRun = {
  /** New codes of this run (the stop code included when it came). */
  codes: number[];
  /** Their latents, [codes.length * width]. */
  latents: Float32Array;
  width: number;
  done: boolean;
  reason: StopReason | null;
};

/** Largest float32 below 1: a uniform that rounds up to 1.0 would select past the last kept code. */
const BELOW_ONE = 0.99999994;

/**
 * The sampler's seeded RNG, as the uniforms the decode graph draws with. A run takes uniforms
 * for its maximum length but commits only as many draws as codes it produced.
 */
export class UniformSource {
  private rng: Rng;
  constructor(seed: number | RngState) {
    this.rng = typeof seed === 'number' ? Rng.fromSeed(seed) : Rng.fromState(seed);
  }
  get state(): RngState {
    return this.rng.state;
  }
  peek(n: number): Float32Array {
    const r = Rng.fromState(this.rng.state);
    const u = new Float32Array(n);
    for (let i = 0; i < n; i++) u[i] = Math.min(r.next(), BELOW_ONE);
    return u;
  }
  advance(used: number): void {
    for (let i = 0; i < used; i++) this.rng.next();
  }
}

export async function* generateCodes(
  gpt: Gpt,
  cond: { data: Float32Array; shape: readonly number[] },
  textIds: readonly number[],
  o: GenerateOptions,
): AsyncGenerator<CodeRun, void, void> {
  const { cache } = await gpt.prefill(cond.data, cond.shape, textIds);
  const criteria: StoppingCriterion[] = o.babbleGuard
    ? [repeatRun(o.babbleGuard.maxRepeatRun), tooLongForText(textIds.length, o.babbleGuard.maxCodesPerTextToken)]
    : [];
  const all: number[] = [];
  let runIndex = 0;
  const start = () => {
    const size = typeof o.runCodes === 'number' ? o.runCodes : o.runCodes(runIndex);
    runIndex++;
    const n = Math.min(Math.max(1, Math.floor(size)), o.maxCodes - all.length);
    return gpt.decode(cache, o.rng.peek(n), o.settings);
  };
  let next: ReturnType<typeof start> | null = null;
  try {
    while (true) {
      o.checkCancelled?.();
      const run = await (next ?? start());
      next = null;
      let codes = run.codes;
      let reason: StopReason | null = null;
      // The guard looks at every prefix; the first that trips it ends the sentence there.
      for (let i = 0; i < codes.length && criteria.length > 0; i++) {
        all.push(codes[i] as number);
        reason = firstStop(criteria, all);
        if (reason) {
          codes = codes.slice(0, i + 1);
          break;
        }
      }
      if (criteria.length === 0) all.push(...codes);
      o.rng.advance(codes.length);
      if (!reason && codes.at(-1) === gpt.stopCode) reason = 'stop_token';
      if (!reason && all.length >= o.maxCodes) reason = 'max_new_tokens';
      // Not before the first run's audio: that one is the time to first audio, and a decode beside it
      // on the device slows it down; the next run has the first chunk's playing time to be ready.
      if (!reason && o.prefetch && (runIndex > 1 || o.prefetchFirst?.() === true)) {
        next = start();
        // Awaited on the next turn; a caller that stops before then never reads it.
        next.catch(() => undefined);
      }
      yield {
        codes,
        latents: run.latents.subarray(0, codes.length * run.width),
        width: run.width,
        done: reason !== null,
        reason,
      };
      if (reason) return;
    }
  } finally {
    cache.dispose();
  }
}

export { GptKvCache };
