/**
 * torchaudio's MelSpectrogram as XTTS-v2 uses it (power STFT, centred frames with reflect
 * padding, window zero-padded to n_fft in the middle, mel filterbank with torchaudio's
 * `melscale_fbanks` semantics), and the GPT-conditioning log-mel: natural log of the
 * value clamped at 1e-5, each bin divided by the model's 80 `mel_stats`.
 */
import FFT from 'fft.js';
import { AudioInputError } from './errors.ts';

export type MelOptions = {
  sampleRate: number;
  nFft: number;
  winLength: number;
  hopLength: number;
  nMels: number;
  fMin: number;
  fMax: number;
  window: 'hann' | 'hamming';
  norm: 'slaney' | null;
};

/** docs/xtts-v2-facts.md §2b: the perceiver-conditioning mel at 22050 Hz. */
export const CONDITIONING_MEL: MelOptions = {
  sampleRate: 22050,
  nFft: 2048,
  winLength: 1024,
  hopLength: 256,
  nMels: 80,
  fMin: 0,
  fMax: 8000,
  window: 'hann',
  norm: 'slaney',
};

/** §2e: the speaker encoder's front end at 16 kHz (after pre-emphasis). */
export const SPEAKER_MEL: MelOptions = {
  sampleRate: 16000,
  nFft: 512,
  winLength: 400,
  hopLength: 160,
  nMels: 64,
  fMin: 0,
  fMax: 8000,
  window: 'hamming',
  norm: null,
};

/** torch.hann_window / hamming_window with periodic=True. */
export function periodicWindow(kind: 'hann' | 'hamming', length: number): Float64Array {
  const w = new Float64Array(length);
  for (let n = 0; n < length; n++) {
    const c = Math.cos((2 * Math.PI * n) / length);
    w[n] = kind === 'hann' ? 0.5 - 0.5 * c : 0.54 - 0.46 * c;
  }
  return w;
}

const hzToMel = (f: number) => 2595 * Math.log10(1 + f / 700);
const melToHz = (m: number) => 700 * (10 ** (m / 2595) - 1);

/** torchaudio.functional.melscale_fbanks(..., mel_scale="htk"): [nFreqs][nMels]. */
export function melFilterbank(o: MelOptions): Float64Array[] {
  const nFreqs = Math.floor(o.nFft / 2) + 1;
  const top = Math.floor(o.sampleRate / 2);
  const freqs = Array.from({ length: nFreqs }, (_, i) => (top * i) / (nFreqs - 1));
  const mMin = hzToMel(o.fMin);
  const mMax = hzToMel(o.fMax);
  const fPts = Array.from({ length: o.nMels + 2 }, (_, i) => melToHz(mMin + ((mMax - mMin) * i) / (o.nMels + 1)));
  const fb: Float64Array[] = [];
  for (let k = 0; k < nFreqs; k++) {
    const row = new Float64Array(o.nMels);
    const f = freqs[k] as number;
    for (let m = 0; m < o.nMels; m++) {
      const [lo, mid, hi] = [fPts[m] as number, fPts[m + 1] as number, fPts[m + 2] as number];
      const down = (f - lo) / (mid - lo);
      const up = (hi - f) / (hi - mid);
      let v = Math.max(0, Math.min(down, up));
      if (o.norm === 'slaney') v *= 2 / (hi - lo);
      row[m] = v;
    }
    fb.push(row);
  }
  return fb;
}

/** |STFT|² frames: [frames][nFft/2 + 1], torch.stft(center=True, pad_mode="reflect"). */
export function powerSpectrogram(signal: Float32Array, o: MelOptions): Float64Array[] {
  const pad = Math.floor(o.nFft / 2);
  if (signal.length <= pad) {
    throw new AudioInputError(
      'AUDIO_TOO_SHORT',
      `need more than ${pad} samples for a centred STFT, got ${signal.length}`,
    );
  }
  const padded = new Float64Array(signal.length + 2 * pad);
  for (let i = 0; i < padded.length; i++) {
    let j = i - pad;
    if (j < 0) j = -j;
    else if (j >= signal.length) j = 2 * (signal.length - 1) - j;
    padded[i] = signal[j] as number;
  }
  const win = periodicWindow(o.window, o.winLength);
  const offset = Math.floor((o.nFft - o.winLength) / 2);
  const frames = 1 + Math.floor(signal.length / o.hopLength);
  const nBins = Math.floor(o.nFft / 2) + 1;
  const fft = new FFT(o.nFft);
  const input = new Float64Array(o.nFft);
  const out = fft.createComplexArray();
  const spec: Float64Array[] = [];
  for (let t = 0; t < frames; t++) {
    input.fill(0);
    const start = t * o.hopLength + offset;
    for (let n = 0; n < o.winLength; n++) input[offset + n] = (padded[start + n] as number) * (win[n] as number);
    fft.realTransform(out, input);
    const row = new Float64Array(nBins);
    for (let k = 0; k < nBins; k++) {
      const re = out[2 * k] as number;
      const im = out[2 * k + 1] as number;
      row[k] = re * re + im * im;
    }
    spec.push(row);
  }
  return spec;
}

/** Mel power spectrogram laid out [nMels][frames] (torchaudio's [n_mels, time]). */
export function melSpectrogram(signal: Float32Array, o: MelOptions, fb = melFilterbank(o)): Float32Array[] {
  const spec = powerSpectrogram(signal, o);
  const mel = Array.from({ length: o.nMels }, () => new Float32Array(spec.length));
  // Each band's triangle covers a few dozen bins; the sum runs over those alone, in the same
  // order (the zero weights outside add exactly nothing), so the result is the same to the bit.
  const bands = bandsOf(fb, o.nMels);
  spec.forEach((row, t) => {
    for (let m = 0; m < o.nMels; m++) {
      const { lo, weights } = bands[m] as (typeof bands)[number];
      let acc = 0;
      for (let i = 0; i < weights.length; i++) acc += (row[lo + i] as number) * (weights[i] as number);
      (mel[m] as Float32Array)[t] = acc;
    }
  });
  return mel;
}

type Band = { lo: number; weights: Float64Array };
const bandCache = new WeakMap<Float64Array[], Band[]>();
/** Each mel band's non-zero stretch of filterbank weights: where it starts, and the weights. */
function bandsOf(fb: Float64Array[], nMels: number): Band[] {
  const cached = bandCache.get(fb);
  if (cached) return cached;
  const bands = Array.from({ length: nMels }, (_, m) => {
    let lo = fb.length;
    let hi = 0;
    for (let k = 0; k < fb.length; k++) {
      if (((fb[k] as Float64Array)[m] as number) !== 0) {
        lo = Math.min(lo, k);
        hi = k + 1;
      }
    }
    const weights = new Float64Array(Math.max(0, hi - lo));
    for (let i = 0; i < weights.length; i++) weights[i] = (fb[lo + i] as Float64Array)[m] as number;
    return { lo, weights };
  });
  bandCache.set(fb, bands);
  return bands;
}

/**
 * The GPT-conditioning features: log(clamp(mel, 1e-5)) / mel_stats, [80][frames] at 22050 Hz.
 * `melStats` are the 80 divisors stored in the model package.
 */
export function conditioningMel(signal22k: Float32Array, melStats: Float32Array): Float32Array[] {
  if (melStats.length !== CONDITIONING_MEL.nMels) {
    throw new RangeError(`mel_stats must have ${CONDITIONING_MEL.nMels} values, got ${melStats.length}`);
  }
  const mel = melSpectrogram(signal22k, CONDITIONING_MEL, conditioningFilterbank());
  mel.forEach((row, m) => {
    const s = melStats[m] as number;
    for (let t = 0; t < row.length; t++) row[t] = Math.log(Math.max(row[t] as number, 1e-5)) / s;
  });
  return mel;
}

let condFb: Float64Array[] | undefined;
function conditioningFilterbank(): Float64Array[] {
  condFb ??= melFilterbank(CONDITIONING_MEL);
  return condFb;
}
