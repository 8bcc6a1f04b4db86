/**
 * Audio the listening test makes itself: degraded copies of real recordings for gold trials,
 * and the stereo tones of the headphone check.
 */
import { createHash } from 'node:crypto';
import { decodeAudio, encodeWav, resample } from '../../inference/index.ts';
import { createRng } from '../rng.ts';
import { ListeningError } from './errors.ts';

export type Clip = { wav: Uint8Array; sha256: string; durationS: number };

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The one sample rate of every stimulus: XTTS-v2's output rate. Real recordings come at any
 * rate; stored as they are, the rate in their WAV header would tell a rater which clip is the
 * real speaker, so they are resampled to this.
 */
export const STIMULUS_SAMPLE_RATE = 24000;

/**
 * Decodes any supported audio and re-encodes it as mono PCM16 WAV at STIMULUS_SAMPLE_RATE, so
 * every stimulus plays everywhere and no header tells one kind of clip from another.
 */
export async function normaliseClip(
  bytes: Uint8Array,
  field: string,
): Promise<Clip & { samples: Float32Array; sampleRate: number }> {
  let mono: { samples: Float32Array; sampleRate: number };
  try {
    mono = await decodeAudio(bytes);
  } catch (err) {
    throw new ListeningError('AUDIO_INVALID', `Could not decode the audio: ${(err as Error).message}`, { field });
  }
  if (mono.samples.length === 0) throw new ListeningError('AUDIO_INVALID', 'The audio is empty', { field });
  const atRate = mono.sampleRate === STIMULUS_SAMPLE_RATE;
  if (!atRate) {
    mono = { samples: resample(mono.samples, mono.sampleRate, STIMULUS_SAMPLE_RATE), sampleRate: STIMULUS_SAMPLE_RATE };
  }
  // Re-encoding PCM16 is not lossless (decoding divides by 32768, encoding positive samples
  // multiplies by 32767), so a rendered stimulus that already is a plain mono PCM16 WAV at the
  // stimulus rate is kept as it is: listeners hear exactly what synthesis with the same seed produces.
  const wav = atRate && isPlainMonoPcm16(bytes) ? bytes : encodeWav(mono.samples, mono.sampleRate);
  return { ...mono, wav, sha256: sha256(wav), durationS: mono.samples.length / mono.sampleRate };
}

/** A 44-byte-header RIFF/WAVE, PCM 16-bit mono, data chunk straight after fmt: what encodeWav writes. */
function isPlainMonoPcm16(bytes: Uint8Array): boolean {
  if (bytes.length < 44) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  return (
    tag(0) === 'RIFF' &&
    tag(8) === 'WAVE' &&
    tag(12) === 'fmt ' &&
    view.getUint32(16, true) === 16 &&
    view.getUint16(20, true) === 1 &&
    view.getUint16(22, true) === 1 &&
    view.getUint16(34, true) === 16 &&
    tag(36) === 'data' &&
    view.getUint32(40, true) === bytes.length - 44
  );
}

/**
 * A clearly worse copy of a real recording: band-limited to about 1.5 kHz (telephone-like
 * muffling), coarsely quantised and with added noise at roughly 10 dB SNR. Any attentive
 * listener prefers the original, which is what a gold trial needs.
 */
export function degrade(samples: Float32Array, sampleRate: number, seed: string): Float32Array {
  const rng = createRng(`degrade/${seed}`);
  const out = new Float32Array(samples.length);
  // Two cascaded one-pole low-pass filters at ~1.5 kHz.
  const a = Math.exp((-2 * Math.PI * 1500) / sampleRate);
  let y1 = 0;
  let y2 = 0;
  let energy = 0;
  for (let i = 0; i < samples.length; i++) {
    y1 = (1 - a) * (samples[i] as number) + a * y1;
    y2 = (1 - a) * y1 + a * y2;
    out[i] = y2;
    energy += y2 * y2;
  }
  const rms = Math.sqrt(energy / Math.max(1, samples.length));
  const noise = rms / Math.sqrt(10);
  const levels = 24;
  for (let i = 0; i < out.length; i++) {
    const v = (out[i] as number) + noise * (rng.next() * 2 - 1) * Math.sqrt(3);
    out[i] = Math.round(v * levels) / levels;
  }
  return out;
}

/** A 16-bit stereo WAV. */
function encodeStereoWav(left: Float32Array, right: Float32Array, sampleRate: number): Uint8Array {
  const n = left.length;
  const out = new Uint8Array(44 + n * 4);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[offset + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + n * 4, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 2, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 4, true);
  view.setUint16(32, 4, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, n * 4, true);
  const pcm = (v: number) => Math.round(Math.max(-1, Math.min(1, v)) * 32767);
  for (let i = 0; i < n; i++) {
    view.setInt16(44 + i * 4, pcm(left[i] as number), true);
    view.setInt16(46 + i * 4, pcm(right[i] as number), true);
  }
  return out;
}

export const HEADPHONE_QUESTIONS = 3;
export const HEADPHONE_TONES = 3;

/**
 * Woods et al. (2017) headphone screening: three 200 Hz tones, one 6 dB quieter, one played in
 * antiphase between the ears. Over loudspeakers the antiphase tone cancels and sounds quietest;
 * through headphones only the truly quieter one does. `answers[q]` is that tone's index.
 */
export function headphoneAnswers(raterId: string): number[] {
  const rng = createRng(`headphones/${raterId}`);
  return Array.from({ length: HEADPHONE_QUESTIONS }, () => rng.int(HEADPHONE_TONES));
}

/** The question's sound: the three tones in a row with short gaps, the quiet one at `answer`. */
export function headphoneQuestionWav(raterId: string, question: number): Uint8Array {
  const answers = headphoneAnswers(raterId);
  const quiet = answers[question] ?? 0;
  // The antiphase tone is another of the three, chosen from the same rater's generator.
  const rng = createRng(`headphones/${raterId}/${question}`);
  const others = [0, 1, 2].filter((i) => i !== quiet);
  const antiphase = others[rng.int(others.length)] as number;
  const rate = 16000;
  const tone = Math.round(rate * 0.5);
  const gap = Math.round(rate * 0.35);
  const total = HEADPHONE_TONES * tone + (HEADPHONE_TONES - 1) * gap;
  const left = new Float32Array(total);
  const right = new Float32Array(total);
  for (let t = 0; t < HEADPHONE_TONES; t++) {
    const gain = t === quiet ? 0.25 * 0.5 : 0.25;
    const start = t * (tone + gap);
    for (let i = 0; i < tone; i++) {
      // 20 ms raised-cosine ramps avoid clicks, which would give the antiphase tone away.
      const ramp = Math.min(1, i / (rate * 0.02), (tone - i) / (rate * 0.02));
      const v = gain * ramp * Math.sin((2 * Math.PI * 200 * i) / rate);
      left[start + i] = v;
      right[start + i] = t === antiphase ? -v : v;
    }
  }
  return encodeStereoWav(left, right, rate);
}
