import type { AudioChunk } from '../../inference/index.ts';

export const audioFormats = ['wav', 'pcm', 'mp3', 'opus'] as const;
export type AudioFormat = (typeof audioFormats)[number];

export const contentTypes: Record<AudioFormat, string> = {
  wav: 'audio/wav',
  pcm: 'audio/L16',
  mp3: 'audio/mpeg',
  opus: 'audio/ogg; codecs=opus',
};

/** Turns float chunks into bytes of one format, chunk by chunk, so audio leaves as it is made. */
export interface StreamEncoder {
  /** Bytes to send before any audio (a container header), possibly empty. */
  start(sampleRate: number): Uint8Array;
  encode(chunk: Float32Array): Uint8Array;
  finish(): Uint8Array;
}

export function pcm16(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    view.setInt16(i * 2, Math.round(s * 32767), true);
  }
  return out;
}

/**
 * A PCM16 WAV header. When the length is not known yet (streaming), the RIFF and data sizes
 * are set to the largest value, which players read as "until the stream ends".
 */
export function wavHeader(sampleRate: number, dataBytes?: number): Uint8Array {
  const h = new Uint8Array(44);
  const v = new DataView(h.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) h[at + i] = s.charCodeAt(i);
  };
  const size = dataBytes ?? 0xffffffff - 36;
  ascii(0, 'RIFF');
  v.setUint32(4, Math.min(0xffffffff, size + 36), true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, size, true);
  return h;
}

const empty = new Uint8Array(0);

export function pcmEncoder(): StreamEncoder {
  return { start: () => empty, encode: pcm16, finish: () => empty };
}

export function wavStreamEncoder(): StreamEncoder {
  return { start: (rate) => wavHeader(rate), encode: pcm16, finish: () => empty };
}

/** Encodes a whole clip at once (non-streamed responses get exact WAV sizes). */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  const data = pcm16(samples);
  const out = new Uint8Array(44 + data.length);
  out.set(wavHeader(sampleRate, data.length));
  out.set(data, 44);
  return out;
}

export async function collect(
  chunks: AsyncIterable<AudioChunk>,
): Promise<{ samples: Float32Array; sampleRate: number }> {
  const parts: Float32Array[] = [];
  let sampleRate = 24000;
  for await (const c of chunks) {
    parts.push(c.samples);
    sampleRate = c.sampleRate;
  }
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, sampleRate };
}
