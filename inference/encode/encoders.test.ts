import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAudio } from '../audio/decode.ts';
import { createEncoder, encodeAudio } from './encoders.ts';
import { oggCrc } from './ogg.ts';

const rate = 24000;
// A voice-like test signal: two harmonics with a slow amplitude swell.
const signal = Float32Array.from({ length: rate }, (_, i) => {
  const t = i / rate;
  return (
    0.4 * Math.sin(2 * Math.PI * 220 * t) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 2 * t)) +
    0.1 * Math.sin(2 * Math.PI * 660 * t)
  );
});

/** Signal-to-noise ratio of `got` against `want` in dB, over the overlap. */
function snr(want: ArrayLike<number>, got: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    s += (want[i] as number) ** 2;
    n += ((want[i] as number) - (got[i] as number)) ** 2;
  }
  return 10 * Math.log10(s / n);
}

describe('audio encoders', () => {
  it('wav: exact header sizes and PCM16 samples that read back', async () => {
    const bytes = encodeAudio('wav', signal, rate);
    assert.equal(bytes.length, 44 + 2 * signal.length);
    const d = await decodeAudio(bytes);
    assert.equal(d.sampleRate, rate);
    assert.equal(d.samples.length, signal.length);
    for (let i = 0; i < signal.length; i += 97)
      assert.ok(Math.abs((d.samples[i] as number) - (signal[i] as number)) < 1e-4);
  });

  it('wav streamed: one header with unknown length, then raw samples per chunk', () => {
    const e = createEncoder('wav', rate);
    const a = e.push(signal.subarray(0, 100));
    const b = e.push(signal.subarray(100, 300));
    assert.equal(a.length, 44 + 200);
    assert.equal(b.length, 400);
    assert.equal(new DataView(a.buffer).getUint32(40, true), 0xffffffff);
    assert.equal(e.end().length, 0);
  });

  it('pcm: little-endian int16, two bytes a sample', () => {
    const bytes = encodeAudio('pcm', Float32Array.from([0, 1, -1, 0.5]), rate);
    const v = new DataView(bytes.buffer);
    assert.deepEqual(
      [0, 2, 4, 6].map((o) => v.getInt16(o, true)),
      [0, 32767, -32768, 16384],
    );
  });

  it('mp3: LAME frames a decoder reads back as the same sound', async () => {
    const bytes = encodeAudio('mp3', signal, rate);
    assert.ok(bytes.length > 1000 && bytes.length < 16000, `${bytes.length} bytes at 64 kbit/s`);
    const d = await decodeAudio(bytes);
    assert.equal(d.sampleRate, rate);
    assert.ok(d.samples.length >= signal.length);
    // LAME's encoder delay plus the decoder's: find the lag, then compare.
    let best = { lag: 0, err: Number.POSITIVE_INFINITY };
    for (let lag = 0; lag < 3000; lag++) {
      let err = 0;
      for (let i = 4000; i < 6000; i++) err += ((d.samples[i + lag] as number) - (signal[i] as number)) ** 2;
      if (err < best.err) best = { lag, err };
    }
    const shifted = d.samples.subarray(best.lag);
    assert.ok(snr(signal, shifted, 2000, 20000) > 15, `SNR ${snr(signal, shifted, 2000, 20000).toFixed(1)} dB`);
  });

  it('opus: an Ogg Opus file whose pre-skip and end granule give back exactly the input length', async () => {
    const bytes = encodeAudio('opus', signal, rate);
    assert.equal(String.fromCharCode(...bytes.subarray(0, 4)), 'OggS');
    const d = await decodeAudio(bytes);
    assert.equal(d.sampleRate, 48000);
    assert.equal(d.samples.length, 2 * signal.length);
    const down = Float32Array.from({ length: signal.length }, (_, i) => d.samples[2 * i] as number);
    assert.ok(snr(signal, down, 2000, 22000) > 10, `SNR ${snr(signal, down, 2000, 22000).toFixed(1)} dB`);
  });

  it('opus streamed: headers first, then pages as chunks arrive', async () => {
    const e = createEncoder('opus', rate);
    const parts = [e.push(signal.subarray(0, 5000)), e.push(signal.subarray(5000)), e.end()];
    assert.ok((parts[0] as Uint8Array).length > 50);
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    assert.equal((await decodeAudio(joined)).samples.length, 2 * signal.length);
  });

  it("ogg CRC matches the specification's check value", () => {
    // CRC-32/OGG (poly 0x04c11db7, init 0, no reflection, no final xor) of "123456789".
    assert.equal(oggCrc(new TextEncoder().encode('123456789')), 0x89a1897f);
  });
});
