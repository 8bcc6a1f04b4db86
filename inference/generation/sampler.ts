/**
 * The sampler's TypeScript reference: applies the logits processors in the reference's order, then
 * draws a code with its own seeded RNG (or takes the argmax when sampling is off, as parity tests
 * do). The engine samples inside the exported decode graph instead; tests check the graph's draws
 * against this one.
 */
import type { GenerationConfig } from './config.ts';
import { type LogitsProcessor, repetitionPenalty, softmax, temperature, topK, topP } from './logits-processors.ts';
import { Rng, type RngState } from './rng.ts';

export class Sampler {
  readonly processors: readonly LogitsProcessor[];
  private readonly doSample: boolean;
  private rng: Rng;

  constructor(
    config: Pick<GenerationConfig, 'temperature' | 'repetition_penalty' | 'top_k' | 'top_p' | 'do_sample' | 'seed'>,
    state?: RngState,
  ) {
    // HF applies the penalty as a processor even without sampling; the warpers only when sampling.
    this.processors = config.do_sample
      ? [
          repetitionPenalty(config.repetition_penalty),
          temperature(config.temperature),
          topK(config.top_k),
          topP(config.top_p),
        ]
      : [repetitionPenalty(config.repetition_penalty)];
    this.doSample = config.do_sample;
    this.rng = state ? Rng.fromState(state) : Rng.fromSeed(config.seed);
  }

  /** The RNG state, to save with a clip or resume from. */
  get state(): RngState {
    return this.rng.state;
  }

  /**
   * Picks the next code. `logits` is modified in place. `inputIds` are the ids HF would
   * see (see referenceInputIds), which the repetition penalty needs.
   */
  sample(logits: Float32Array, inputIds: readonly number[]): number {
    for (const p of this.processors) p(logits, inputIds);
    if (!this.doSample) return argmax(logits);
    return draw(softmax(logits), this.rng.next());
  }
}

/** First index of the largest value (torch.argmax's choice on ties). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Inverse-CDF draw: the first index whose cumulative probability exceeds `u`. */
export function draw(probs: Float64Array, u: number): number {
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (p <= 0) continue;
    last = i;
    cumulative += p;
    if (u < cumulative) return i;
  }
  return last; // rounding left u ≥ the total: the last possible token
}
