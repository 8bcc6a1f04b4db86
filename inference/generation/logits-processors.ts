/**
 * Logits processors as Hugging Face `generate` applies them for XTTS-v2 sampling, each a
 * small function that rewrites `logits` in place. Order in the reference: repetition
 * penalty, temperature, top-k, top-p (see sampler.ts).
 */

export type LogitsProcessor = (logits: Float32Array, inputIds: readonly number[]) => void;

/**
 * HF RepetitionPenaltyLogitsProcessor: every id present in `inputIds` (once, however often
 * it occurs) has a positive logit divided by the penalty, a negative one multiplied.
 * XTTS quirk: HF's `input_ids` start with one dummy id `1` per prefix position and the
 * start token 1024 (see `referenceInputIds`), so audio code 1 and 1024 are penalised
 * from the first step.
 */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  if (!(penalty > 0)) throw new RangeError(`repetition penalty must be > 0, got ${penalty}`);
  return (logits, inputIds) => {
    if (penalty === 1) return;
    for (const id of new Set(inputIds)) {
      if (id < 0 || id >= logits.length) continue;
      const v = logits[id] as number;
      logits[id] = v < 0 ? v * penalty : v / penalty;
    }
  };
}

/** The `input_ids` HF sees in XTTS: `prefixLength` dummy 1s, the start token, then codes. */
export function referenceInputIds(prefixLength: number, startToken: number, generated: readonly number[]): number[] {
  return [...new Array<number>(prefixLength).fill(1), startToken, ...generated];
}

/** HF TemperatureLogitsWarper: logits / t. */
export function temperature(t: number): LogitsProcessor {
  if (!(t > 0)) throw new RangeError(`temperature must be > 0, got ${t}`);
  return (logits) => {
    if (t === 1) return;
    for (let i = 0; i < logits.length; i++) logits[i] = (logits[i] as number) / t;
  };
}

/** HF TopKLogitsWarper: everything below the k-th largest logit → -inf (ties at it kept). */
export function topK(k: number): LogitsProcessor {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`top_k must be a non-negative integer, got ${k}`);
  return (logits) => {
    if (k === 0 || k >= logits.length) return;
    const kth = Float32Array.from(logits).sort().at(-k) as number;
    for (let i = 0; i < logits.length; i++) if ((logits[i] as number) < kth) logits[i] = Number.NEGATIVE_INFINITY;
  };
}

/**
 * HF TopPLogitsWarper: sort ascending, drop the tokens whose cumulative probability is
 * ≤ 1 − p, always keep the most likely. Ties are ordered by id (torch's sort is not
 * stable, so the reference may break exact ties at the cut differently).
 */
export function topP(p: number): LogitsProcessor {
  if (!(p > 0 && p <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${p}`);
  return (logits) => {
    if (p === 1) return;
    const order = Array.from(logits.keys()).sort((a, b) => (logits[a] as number) - (logits[b] as number) || a - b);
    const probs = softmax(Float32Array.from(order, (i) => logits[i] as number));
    let cumulative = 0;
    for (let j = 0; j < order.length - 1; j++) {
      cumulative += probs[j] as number;
      if (cumulative <= 1 - p) logits[order[j] as number] = Number.NEGATIVE_INFINITY;
    }
  };
}

/**
 * HF's `length_penalty` only scores finished beams (sum of log-probs / length^penalty);
 * XTTS samples with one beam, so it has no effect there. Kept for a beam search to use.
 */
export function beamScore(sumLogProbs: number, length: number, lengthPenalty: number): number {
  return sumLogProbs / length ** lengthPenalty;
}

export function softmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] as number) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / sum;
  return out;
}
