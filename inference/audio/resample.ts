/**
 * torchaudio.functional.resample with its defaults (windowed-sinc interpolation, Hann
 * window, lowpass_filter_width 6, rolloff 0.99), which the reference uses to bring
 * references to 22050 Hz and the speaker-encoder input to 16000 Hz. Ported rather than
 * taken from libsamplerate so conditioning inputs match the reference's filter exactly;
 * the kernel is a polyphase filter over the reduced rate ratio (22050→16000 = 441:320).
 */

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

type Kernel = { phases: Float64Array[]; width: number; orig: number; next: number };

const kernels = new Map<string, Kernel>();

function sincKernel(origFreq: number, newFreq: number, lowpassWidth = 6, rolloff = 0.99): Kernel {
  const key = `${origFreq}:${newFreq}`;
  const cached = kernels.get(key);
  if (cached) return cached;
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const next = newFreq / g;
  const baseFreq = Math.min(orig, next) * rolloff;
  const width = Math.ceil((lowpassWidth * orig) / baseFreq);
  const taps = 2 * width + orig;
  const scale = baseFreq / orig;
  const phases: Float64Array[] = [];
  for (let p = 0; p < next; p++) {
    const k = new Float64Array(taps);
    for (let i = 0; i < taps; i++) {
      let t = (-p / next + (i - width) / orig) * baseFreq;
      t = Math.max(-lowpassWidth, Math.min(lowpassWidth, t));
      const window = Math.cos((t * Math.PI) / lowpassWidth / 2) ** 2;
      const x = t * Math.PI;
      k[i] = (x === 0 ? 1 : Math.sin(x) / x) * window * scale;
    }
    phases.push(k);
  }
  const kernel = { phases, width, orig, next };
  kernels.set(key, kernel);
  return kernel;
}

export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
    throw new RangeError(`sample rates must be positive integers: ${fromRate} → ${toRate}`);
  }
  if (fromRate === toRate) return samples;
  const { phases, width, orig, next } = sincKernel(fromRate, toRate);
  const n = samples.length;
  const outLength = Math.ceil((next * n) / orig);
  const out = new Float32Array(outLength);
  const taps = 2 * width + orig;
  for (let j = 0; j < outLength; j++) {
    const block = Math.floor(j / next);
    const k = phases[j % next] as Float64Array;
    // padded[i] = samples[i - width], zero outside; the window starts at block * orig.
    const start = block * orig - width;
    let acc = 0;
    const lo = Math.max(0, -start);
    const hi = Math.min(taps, n - start);
    for (let i = lo; i < hi; i++) acc += (k[i] as number) * (samples[start + i] as number);
    out[j] = acc;
  }
  return out;
}

/** The reference clips after resampling. */
export function clip(samples: Float32Array, limit = 1): Float32Array {
  return samples.map((v) => Math.max(-limit, Math.min(limit, v)));
}
