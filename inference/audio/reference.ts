/**
 * A voice reference as the reference's `load_audio` prepares it: decoded, mono, resampled
 * to 22050 Hz, clipped to [-1, 1], cut to `maxSeconds` — and refused with a typed error
 * when it cannot condition a voice (too short, silent).
 */
import { limits } from '../../infra/index.ts';
import { decodeAudio } from './decode.ts';
import { AudioInputError } from './errors.ts';
import { clip, resample } from './resample.ts';

export const GPT_SAMPLE_RATE = 22050;
export const SPEAKER_SAMPLE_RATE = 16000;
/** The reference skips conditioning chunks shorter than 0.33 s; a shorter clip has none. */
export const MIN_REFERENCE_SECONDS = limits.audio.minReferenceSeconds;
/** Peak below this (−60 dBFS) is treated as silence. */
export const SILENCE_PEAK = 1e-3;

export type ReferenceOptions = { maxSeconds?: number };

export function checkReference(samples: Float32Array, sampleRate: number): void {
  const seconds = samples.length / sampleRate;
  if (seconds < MIN_REFERENCE_SECONDS) {
    throw new AudioInputError(
      'AUDIO_TOO_SHORT',
      `reference is ${seconds.toFixed(2)} s; need at least ${MIN_REFERENCE_SECONDS} s`,
    );
  }
  let peak = 0;
  for (const v of samples) peak = Math.max(peak, Math.abs(v));
  if (peak < SILENCE_PEAK) throw new AudioInputError('AUDIO_SILENT', 'reference is silent');
}

/** Bytes of an audio file → 22050 Hz mono reference (max_ref_len 30 s in the released config). */
export async function loadReference(bytes: Uint8Array, options: ReferenceOptions = {}): Promise<Float32Array> {
  const seconds = options.maxSeconds ?? limits.audio.referenceSeconds;
  // A second past the cut is decoded so the resampler's filter sees what it would in the whole file.
  const { samples, sampleRate } = await decodeAudio(bytes, { maxSeconds: seconds + 1 });
  const at22k = clip(resample(samples, sampleRate, GPT_SAMPLE_RATE));
  const max = Math.floor(seconds * GPT_SAMPLE_RATE);
  const cut = at22k.length > max ? at22k.subarray(0, max) : at22k;
  checkReference(cut, GPT_SAMPLE_RATE);
  return cut;
}

/** The speaker encoder's input: the cut 22050 Hz reference at 16 kHz. */
export function toSpeakerRate(reference22k: Float32Array): Float32Array {
  return resample(reference22k, GPT_SAMPLE_RATE, SPEAKER_SAMPLE_RATE);
}
