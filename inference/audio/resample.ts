/**
 * torchaudio.functional.resample with its defaults (windowed-sinc interpolation, Hann
 * window, lowpass_filter_width 6, rolloff 0.99), which the reference uses to bring
 * references to 22050 Hz and the speaker-encoder input to 16000 Hz. Ported rather than
 * taken from libsamplerate so conditioning inputs match the reference's filter exactly;
 * the kernel is a polyphase filter over the reduced rate ratio (22050→16000 = 441:320).
 * A ratio that does not reduce (44101→22050) would make that table gigabytes (phases × taps
 * grows with the product of the rates), so past a small size the same filter is evaluated
 * for each output sample instead: memory proportional to the output, same coefficients.
 */

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Per phase: its taps, and the stretch [lo, hi) of them inside the filter's reach. */
type Kernel = { phases: Float64Array[]; reach: Int32Array; width: number; orig: number; next: number };

const kernels = new Map<string, Kernel>();
const KERNELS_KEPT = 16;
/** Coefficients (phases × taps) a precomputed table may hold: 2 M doubles, 16 MB. */
const MAX_TABLE = 2 ** 21;
const LOWPASS_WIDTH = 6;
const ROLLOFF = 0.99;

function geometry(origFreq: number, newFreq: number) {
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const next = newFreq / g;
  const baseFreq = Math.min(orig, next) * ROLLOFF;
  const width = Math.ceil((LOWPASS_WIDTH * orig) / baseFreq);
  return { orig, next, baseFreq, width, taps: 2 * width + orig, scale: baseFreq / orig };
}

function coefficient(t: number, scale: number): number {
  const c = Math.max(-LOWPASS_WIDTH, Math.min(LOWPASS_WIDTH, t));
  const window = Math.cos((c * Math.PI) / LOWPASS_WIDTH / 2) ** 2;
  const x = c * Math.PI;
  return (x === 0 ? 1 : Math.sin(x) / x) * window * scale;
}

function sincKernel(origFreq: number, newFreq: number): Kernel {
  const key = `${origFreq}:${newFreq}`;
  const cached = kernels.get(key);
  if (cached) return cached;
  const { orig, next, baseFreq, width, taps, scale } = geometry(origFreq, newFreq);
  const phases: Float64Array[] = [];
  // A row holds `taps` coefficients, most of them (past ±LOWPASS_WIDTH zero crossings) the
  // clamped window's ~1e-50 tail; like resampleDirect, the sum covers only the taps within reach.
  const reach = new Int32Array(2 * next);
  for (let p = 0; p < next; p++) {
    const k = new Float64Array(taps);
    let lo = taps;
    let hi = 0;
    for (let i = 0; i < taps; i++) {
      const t = (-p / next + (i - width) / orig) * baseFreq;
      k[i] = coefficient(t, scale);
      if (Math.abs(t) < LOWPASS_WIDTH) {
        lo = Math.min(lo, i);
        hi = i + 1;
      }
    }
    reach[2 * p] = lo;
    reach[2 * p + 1] = Math.max(lo, hi);
    phases.push(k);
  }
  const kernel = { phases, reach, width, orig, next };
  kernels.set(key, kernel);
  if (kernels.size > KERNELS_KEPT) kernels.delete(kernels.keys().next().value as string);
  return kernel;
}

/** The same filter as the table, its coefficients computed where they are needed. */
export function resampleDirect(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  const { orig, next, baseFreq, width, taps, scale } = geometry(fromRate, toRate);
  const n = samples.length;
  const outLength = Math.ceil((next * n) / orig);
  const out = new Float32Array(outLength);
  // Only taps whose |t| < LOWPASS_WIDTH contribute; the rest of a table row is zeros.
  const reach = Math.ceil((LOWPASS_WIDTH * orig) / baseFreq) + 1;
  // A phase's taps within reach sit at the same offsets from its window's start in every block:
  // when the output spans more than one block, they are computed once per phase (the same
  // values, summed in the same order) while that table stays small.
  const span = 2 * reach + 1;
  const cached = outLength > next && next * span <= MAX_TABLE ? new Float64Array(next * span) : undefined;
  if (cached) {
    for (let p = 0; p < next; p++) {
      const c = width + Math.round((p * orig) / next);
      for (let k = 0; k < span; k++) {
        const i = c - reach + k;
        if (i >= 0 && i < taps) cached[p * span + k] = coefficient((-p / next + (i - width) / orig) * baseFreq, scale);
      }
    }
  }
  for (let j = 0; j < outLength; j++) {
    const block = Math.floor(j / next);
    const p = j % next;
    const start = block * orig - width;
    const centre = block * orig + Math.round((p * orig) / next);
    const lo = Math.max(0, -start, centre - reach - start);
    const hi = Math.min(taps, n - start, centre + reach - start + 1);
    let acc = 0;
    if (cached) {
      // Tap i is entry i - (centre - start - reach) of the phase's row.
      const row = p * span - (centre - start - reach);
      for (let i = lo; i < hi; i++) acc += (cached[row + i] as number) * (samples[start + i] as number);
    } else {
      for (let i = lo; i < hi; i++) {
        acc += coefficient((-p / next + (i - width) / orig) * baseFreq, scale) * (samples[start + i] as number);
      }
    }
    out[j] = acc;
  }
  return out;
}

export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
    throw new RangeError(`sample rates must be positive integers: ${fromRate} → ${toRate}`);
  }
  if (fromRate === toRate) return samples;
  const size = geometry(fromRate, toRate);
  if (size.next * size.taps > MAX_TABLE) return resampleDirect(samples, fromRate, toRate);
  const { phases, reach, width, orig, next } = sincKernel(fromRate, toRate);
  const n = samples.length;
  const outLength = Math.ceil((next * n) / orig);
  const out = new Float32Array(outLength);
  for (let j = 0; j < outLength; j++) {
    const block = Math.floor(j / next);
    const p = j % next;
    const k = phases[p] as Float64Array;
    // padded[i] = samples[i - width], zero outside; the window starts at block * orig.
    const start = block * orig - width;
    let acc = 0;
    const lo = Math.max(reach[2 * p] as number, -start);
    const hi = Math.min(reach[2 * p + 1] as number, n - start);
    for (let i = lo; i < hi; i++) acc += (k[i] as number) * (samples[start + i] as number);
    out[j] = acc;
  }
  return out;
}

/** The reference clips after resampling. */
export function clip(samples: Float32Array, limit = 1): Float32Array {
  return samples.map((v) => Math.max(-limit, Math.min(limit, v)));
}
