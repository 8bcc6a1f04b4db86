/**
 * Reference clips for a voice. PCM16 WAV is read here directly because the reference's
 * torchaudio.load scales int16 by 1/32768 on both sides, while audio-decode divides positive
 * samples by 32767: a 3e-5 relative error that moves the conditioning log-mel by ~1e-4 and
 * breaks parity. Everything else goes through audio/reference.ts. (Once audio/decode.ts scales
 * PCM16 by 1/32768 itself, this file can go.)
 */
import { checkReference, GPT_SAMPLE_RATE, loadReference } from '../audio/reference.ts';
import { clip, resample } from '../audio/resample.ts';

/** Mono samples of a plain PCM16 WAV, or null for anything else. */
export function readPcm16Wav(bytes: Uint8Array): { samples: Float32Array; sampleRate: number } | null {
  const ascii = (o: number) => String.fromCharCode(...bytes.subarray(o, o + 4));
  if (bytes.length < 44 || ascii(0) !== 'RIFF' || ascii(8) !== 'WAVE') return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let channels = 0;
  let rate = 0;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = ascii(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16 || view.getUint16(body, true) !== 1 || view.getUint16(body + 14, true) !== 16) return null;
      channels = view.getUint16(body + 2, true);
      rate = view.getUint32(body + 4, true);
    } else if (id === 'data') {
      if (channels < 1 || rate < 1) return null;
      const frames = Math.floor(Math.min(size, bytes.length - body) / (2 * channels));
      const out = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += view.getInt16(body + 2 * (i * channels + c), true) / 32768;
        out[i] = s / channels;
      }
      return { samples: out, sampleRate: rate };
    }
    at = body + size + (size & 1);
  }
  return null;
}

/** A clip → 22050 Hz mono, clipped, cut to `maxSeconds`, refused when too short or silent. */
export async function referenceAudio(bytes: Uint8Array, maxSeconds: number): Promise<Float32Array> {
  const wav = readPcm16Wav(bytes);
  if (!wav || wav.samples.length === 0) return loadReference(bytes, { maxSeconds });
  const at22k = clip(resample(wav.samples, wav.sampleRate, GPT_SAMPLE_RATE));
  const max = Math.floor(maxSeconds * GPT_SAMPLE_RATE);
  const cut = at22k.length > max ? at22k.subarray(0, max) : at22k;
  checkReference(cut, GPT_SAMPLE_RATE);
  return cut;
}
