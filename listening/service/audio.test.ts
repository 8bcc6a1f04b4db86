import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeWav } from '../../inference/index.ts';
import { normaliseClip } from './audio.ts';

test('a rendered stimulus (plain mono PCM16 WAV) is stored bit for bit, loud samples included', async () => {
  const wav = encodeWav(Float32Array.from([0.9, -0.9, 0.3, 0.7, -1, 1]), 24000);
  const clip = await normaliseClip(wav, 'render');
  assert.deepEqual(clip.wav, wav);
  assert.equal(clip.durationS, 6 / 24000);
});

test('other audio is re-encoded as mono PCM16 WAV', async () => {
  const wav = encodeWav(Float32Array.from([0.5, -0.5]), 16000);
  const padded = new Uint8Array(wav.length + 2);
  padded.set(wav);
  new DataView(padded.buffer).setUint32(4, padded.length - 8, true);
  const clip = await normaliseClip(padded, 'body');
  assert.deepEqual(clip.wav, wav);
});
