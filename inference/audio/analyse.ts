/**
 * What a voice reference needs, checked on the decoded clip: speech in it, a usable length
 * (a long clip is cut to its best stretch of speech, and the choice reported), and warnings
 * a user can act on (clipping, background noise, a low level, a clip read only in part).
 *
 * The voice-activity check is written here rather than taken from a package: WebRTC's VAD (the
 * usual npm choice) answers "speech" for loud stationary noise, and the neural ones need model
 * weights and onnxruntime outside inference/runtime. What a reference check needs is coarser:
 * speech rises and falls by tens of dB from syllable to pause and has a peaky (harmonic)
 * spectrum; pink noise, hum, tones and square waves hold a steady level. A frame counts as
 * speech when it stands well above the clip's own noise floor and its spectrum is not flat.
 */
import FFT from 'fft.js';
import { limits } from '../../infra/index.ts';
import { AudioInputError } from './errors.ts';

export type AudioWarning = {
  code: 'CLIPPING' | 'NOISY' | 'LOW_LEVEL' | 'TRIMMED' | 'READ_IN_PART';
  message: string;
};

export type ReferenceReport = {
  /** Seconds of audio examined. */
  examinedS: number;
  /** Seconds of speech-like frames found. */
  speechS: number;
  /** The stretch kept as the reference, in seconds of the examined audio. */
  kept: { startS: number; endS: number };
  trimmed: boolean;
  peakDbfs: number;
  /** Speech level over the noise floor, dB. */
  snrDb: number;
  /** Share of samples at full scale in runs (clipped). */
  clippedFraction: number;
  warnings: AudioWarning[];
};

const FRAME_S = 0.03;
/** A frame is speech this far above the clip's noise floor (10th percentile of frame levels)... */
const ABOVE_FLOOR_DB = 9;
/** ...and above this absolute level... */
const MIN_SPEECH_DBFS = -55;
/** ...with a spectrum (100 Hz–4 kHz) less flat than this (white noise ≈ 0.56; voiced speech < 0.2, still < 0.45 under strong noise). */
const MAX_FLATNESS = 0.45;
const NOISY_SNR_DB = 15;
const LOW_PEAK_DBFS = -30;
const CLIPPED_SHARE = 0.001;
export const SILENCE_PEAK = 1e-3;

const db = (power: number) => 10 * Math.log10(power + 1e-12);

function percentile(values: Float64Array, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? -120;
}

/**
 * Checks a mono clip as a voice reference and chooses the stretch to keep (at most
 * `referenceSeconds`). Throws AUDIO_SILENT, AUDIO_TOO_SHORT or AUDIO_NO_SPEECH.
 */
export function analyseReference(
  samples: Float32Array,
  sampleRate: number,
  options: { referenceSeconds?: number; truncated?: boolean; deadline?: number } = {},
): ReferenceReport {
  const A = limits.audio;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const seconds = samples.length / sampleRate;
  if (seconds < A.minReferenceSeconds) {
    throw new AudioInputError(
      'AUDIO_TOO_SHORT',
      `the clip is ${seconds.toFixed(2)} s; need at least ${A.minReferenceSeconds} s`,
    );
  }
  let peak = 0;
  let clipped = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i] as number);
    if (a > peak) peak = a;
    // Full scale held for consecutive samples is what clipping leaves; a lone peak is not.
    if (a >= 0.999 && Math.abs((samples[i + 1] ?? 0) as number) >= 0.999) clipped++;
  }
  if (peak < SILENCE_PEAK) throw new AudioInputError('AUDIO_SILENT', 'the clip is silent (peak below −60 dBFS)');

  const frame = Math.max(16, Math.round(FRAME_S * sampleRate));
  const frames = Math.floor(samples.length / frame);
  let size = 1;
  while (size < frame) size *= 2;
  const fft = new FFT(size);
  const input = new Float64Array(size);
  const spectrum = fft.createComplexArray();
  const window = Float64Array.from({ length: frame }, (_, i) => Math.sin((Math.PI * i) / frame) ** 2);
  const lo = Math.max(1, Math.floor((100 * size) / sampleRate));
  const hi = Math.max(lo + 1, Math.min(size / 2, Math.ceil((4000 * size) / sampleRate)));
  const bins = hi - lo;
  // Each frame's power spectrum in the speech band, and their long-term mean.
  const power = new Float32Array(frames * bins);
  const average = new Float64Array(bins);
  const level = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    if ((f & 255) === 0 && performance.now() > deadline) {
      throw new AudioInputError('AUDIO_TOO_COMPLEX', 'checking the clip took longer than its time budget');
    }
    for (let i = 0; i < frame; i++) input[i] = (samples[f * frame + i] as number) * (window[i] as number);
    fft.realTransform(spectrum, input);
    let band = 0;
    for (let k = 0; k < bins; k++) {
      const re = spectrum[2 * (k + lo)] as number;
      const im = spectrum[2 * (k + lo) + 1] as number;
      const p = re * re + im * im;
      power[f * bins + k] = p;
      average[k] = (average[k] as number) + p;
      band += p;
    }
    level[f] = db(band / (bins * frame));
  }
  for (let k = 0; k < bins; k++) average[k] = (average[k] as number) / Math.max(1, frames) + 1e-20;
  const floor = percentile(level, 0.1);
  const speech = new Uint8Array(frames);
  let speechPower = 0;
  let speechFrames = 0;
  for (let f = 0; f < frames; f++) {
    const l = level[f] as number;
    if (l < floor + ABOVE_FLOOR_DB || l < MIN_SPEECH_DBFS) continue;
    // Flatness of the frame's spectrum over the clip's long-term spectrum: stationary sound of
    // any colour (pink, brown, hum) is flat by this measure; speech's harmonics and formants are not.
    let logSum = 0;
    let sum = 0;
    for (let k = 0; k < bins; k++) {
      const r = ((power[f * bins + k] as number) + 1e-20) / (average[k] as number);
      logSum += Math.log(r);
      sum += r;
    }
    const flatness = Math.exp(logSum / bins) / (sum / bins);
    if (flatness < MAX_FLATNESS) {
      speech[f] = 1;
      speechFrames++;
      speechPower += 10 ** (l / 10);
    }
  }
  const speechS = speechFrames * (frame / sampleRate);
  const peakDbfs = 20 * Math.log10(peak);
  const clippedFraction = clipped / samples.length;
  const warnings: AudioWarning[] = [];
  if (clippedFraction > CLIPPED_SHARE) {
    warnings.push({
      code: 'CLIPPING',
      message: `${(clippedFraction * 100).toFixed(1)} % of the samples are clipped at full scale: the voice may sound distorted`,
    });
  }
  if (speechS < A.minSpeechSeconds) {
    const clip = warnings.length ? ` (${warnings.map((w) => w.message).join('; ')})` : '';
    throw new AudioInputError(
      'AUDIO_NO_SPEECH',
      `no speech found: ${speechS.toFixed(2)} s of speech-like sound in ${seconds.toFixed(1)} s; need ${A.minSpeechSeconds} s${clip}`,
    );
  }
  const snrDb = db(speechPower / speechFrames) - floor;
  if (snrDb < NOISY_SNR_DB) {
    warnings.push({
      code: 'NOISY',
      message: `speech is only ${snrDb.toFixed(0)} dB above the background: the voice may pick up the noise`,
    });
  }
  if (peakDbfs < LOW_PEAK_DBFS) {
    warnings.push({ code: 'LOW_LEVEL', message: `the clip peaks at ${peakDbfs.toFixed(0)} dBFS: very quiet` });
  }
  if (options.truncated) {
    warnings.push({
      code: 'READ_IN_PART',
      message: `only the first ${seconds.toFixed(0)} s of the clip were examined`,
    });
  }

  const keepFrames = Math.floor((options.referenceSeconds ?? A.referenceSeconds) / (frame / sampleRate));
  let kept = { startS: 0, endS: seconds };
  let trimmed = false;
  if (frames > keepFrames) {
    // The window of keepFrames frames with the most speech; the earliest of equals.
    let count = 0;
    for (let f = 0; f < keepFrames; f++) count += speech[f] as number;
    let best = count;
    let bestStart = 0;
    for (let s = 1; s + keepFrames <= frames; s++) {
      count += (speech[s + keepFrames - 1] as number) - (speech[s - 1] as number);
      if (count > best) {
        best = count;
        bestStart = s;
      }
    }
    const toS = (f: number) => (f * frame) / sampleRate;
    kept = { startS: toS(bestStart), endS: toS(bestStart + keepFrames) };
    trimmed = true;
    warnings.push({
      code: 'TRIMMED',
      message: `the clip is ${seconds.toFixed(1)} s; kept ${kept.startS.toFixed(2)}–${kept.endS.toFixed(2)} s, the ${(kept.endS - kept.startS).toFixed(0)} s with the most speech`,
    });
  }
  return { examinedS: seconds, speechS, kept, trimmed, peakDbfs, snrDb, clippedFraction, warnings };
}
