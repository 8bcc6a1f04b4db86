import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeAudio } from './decode.ts';
import { soxInfo, TOOLS_MISSING, workDir } from './testaudio.ts';
import { encodeWav, toPcm16 } from './wav.ts';

test('PCM16 is little-endian, clipped and rounded', () => {
  const pcm = toPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5]));
  const v = new DataView(pcm.buffer);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => v.getInt16(i * 2, true)),
    [0, 32767, -32768, 32767, -32768, 16384],
  );
});

test('PCM16 of many values: each sample clipped to [-1, 1], scaled by 32768 below 0 and 32767 above, rounded', () => {
  const x = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i * 0.37) * 1.3);
  x.set([Number.NaN, -0, 0.5 / 32767, -0.5 / 32768, 1, -1, 1.0000001, -1.0000001], 0);
  const got = new DataView(toPcm16(x).buffer);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i] as number));
    const want = Number.isNaN(v) ? 0 : Math.round(v < 0 ? v * 32768 : v * 32767);
    assert.equal(got.getInt16(i * 2, true), want === 0 ? 0 : want, `sample ${i} (${x[i]})`); // -0 reads back as 0
  }
});

test('sox reads the written WAV as 24 kHz mono 16-bit with every sample', { skip: TOOLS_MISSING }, async () => {
  const x = Float32Array.from({ length: 24000 }, (_, i) => 0.3 * Math.sin(i / 10));
  const path = join(workDir(), 'out.wav');
  writeFileSync(path, encodeWav(x, 24000));
  assert.deepEqual(soxInfo(path), { rate: 24000, channels: 1, samples: 24000 });
  const back = await decodeAudio(new Uint8Array(encodeWav(x, 24000)));
  let maxErr = 0;
  for (let i = 0; i < x.length; i++)
    maxErr = Math.max(maxErr, Math.abs((back.samples[i] as number) - (x[i] as number)));
  assert.ok(maxErr <= 1 / 32767, `${maxErr}`);
});
