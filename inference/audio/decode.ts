/**
 * Bytes of a wav/flac/mp3/ogg file → mono float32 samples in [-1, 1], the way the
 * reference's `load_audio` gets them (torchaudio.load, channels averaged). Decoding is
 * audio-decode's, which detects the container from the bytes, except for plain PCM16 WAV,
 * read here: torchaudio scales int16 by 1/32768 on both sides, audio-decode divides positive
 * samples by 32767, a 3e-5 relative error that moves the conditioning log-mel by ~1e-4.
 */
import decode, { type AudioData } from 'audio-decode';
import { AudioInputError } from './errors.ts';

export type Mono = { samples: Float32Array; sampleRate: number };

// Magic numbers of the containers we accept: RIFF/WAVE, fLaC, OggS, ID3 or an MPEG sync.
function sniff(bytes: Uint8Array): 'wav' | 'flac' | 'ogg' | 'mp3' | null {
  const ascii = (o: number, n: number) => String.fromCharCode(...bytes.subarray(o, o + n));
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (ascii(0, 3) === 'ID3') return 'mp3';
  if (bytes[0] === 0xff && ((bytes[1] ?? 0) & 0xe0) === 0xe0) return 'mp3';
  return null;
}

export async function decodeAudio(bytes: Uint8Array): Promise<Mono> {
  if (bytes.length < 12 || sniff(bytes) === null) {
    throw new AudioInputError('AUDIO_NOT_AUDIO', 'not a wav, flac, mp3 or ogg file');
  }
  const pcm = readPcm16Wav(bytes);
  if (pcm && pcm.samples.length > 0) return pcm;
  let decoded: AudioData;
  try {
    decoded = await decode(bytes);
  } catch (cause) {
    throw new AudioInputError('AUDIO_CORRUPT', `could not decode audio: ${(cause as Error).message}`, { cause });
  }
  const channels = decoded?.channelData ?? [];
  const first = channels[0];
  if (!first || !(decoded.sampleRate > 0)) throw new AudioInputError('AUDIO_CORRUPT', 'decoder returned no audio');
  return { samples: mixToMono(channels), sampleRate: decoded.sampleRate };
}

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

/** Mean of the channels (torch.mean over the channel axis). */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) return new Float32Array(0);
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  for (const ch of channels) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (ch[i] ?? 0);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / channels.length;
  return out;
}
