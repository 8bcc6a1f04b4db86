/** PCM16 output: a RIFF/WAVE file, or the bare little-endian samples for streaming. */

import { endianness } from 'node:os';

/** Whether an Int16Array's bytes are already little-endian (every platform this runs on is). */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Float [-1, 1] → int16 little-endian bytes, clipped, rounded to nearest. Through an Int16Array where the
 * host is little-endian: this runs on the server's main thread for every streamed chunk, and a
 * DataView.setInt16 per sample took about 5 % of that thread at 64 streams (a CPU profile of bench:gpu
 * on the tiny model); the values are the same.
 */
export function toPcm16(samples: Float32Array): Uint8Array {
  const n = samples.length;
  if (LITTLE_ENDIAN) {
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const v = samples[i] as number;
      out[i] = v >= 1 ? 32767 : v <= -1 ? -32768 : Math.round(v < 0 ? v * 32768 : v * 32767);
    }
    return new Uint8Array(out.buffer);
  }
  const out = new Uint8Array(n * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = Math.max(-1, Math.min(1, samples[i] as number));
    view.setInt16(i * 2, Math.round(v < 0 ? v * 32768 : v * 32767), true);
  }
  return out;
}

/** A mono 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  const data = toPcm16(samples);
  const out = new Uint8Array(44 + data.length);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[offset + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + data.length, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, data.length, true);
  out.set(data, 44);
  return out;
}

/** A mono 32-bit float WAV file: what a prepared voice reference is stored as (no requantising). */
export function encodeFloatWav(samples: Float32Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 4);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[offset + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 4, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 4, true);
  view.setUint16(32, 4, true);
  view.setUint16(34, 32, true);
  ascii(36, 'data');
  view.setUint32(40, samples.length * 4, true);
  for (let i = 0; i < samples.length; i++) view.setFloat32(44 + i * 4, samples[i] as number, true);
  return out;
}
