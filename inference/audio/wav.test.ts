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
