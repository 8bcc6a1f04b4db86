import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeWav } from '../../inference/index.ts';
import { normaliseClip, STIMULUS_SAMPLE_RATE } from './audio.ts';

test('a rendered stimulus (plain mono PCM16 WAV) is stored bit for bit, loud samples included', async () => {
  const wav = encodeWav(Float32Array.from([0.9, -0.9, 0.3, 0.7, -1, 1]), 24000);
  const clip = await normaliseClip(wav, 'render');
  assert.deepEqual(clip.wav, wav);
  assert.equal(clip.durationS, 6 / 24000);
});

test('other audio is re-encoded as mono PCM16 WAV', async () => {
  const wav = encodeWav(Float32Array.from([0.5, -0.5]), 24000);
  const padded = new Uint8Array(wav.length + 2);
  padded.set(wav);
  new DataView(padded.buffer).setUint32(4, padded.length - 8, true);
  const clip = await normaliseClip(padded, 'body');
  assert.deepEqual(clip.wav, wav);
});

test('audio at another rate is resampled to the one stimulus rate, so no header tells real from rendered', async () => {
  const rate = 44100;
  const tone = Float32Array.from({ length: rate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate));
  const clip = await normaliseClip(encodeWav(tone, rate), 'body');
  assert.equal(clip.sampleRate, STIMULUS_SAMPLE_RATE);
  assert.equal(new DataView(clip.wav.buffer, clip.wav.byteOffset).getUint32(24, true), STIMULUS_SAMPLE_RATE);
  assert.ok(Math.abs(clip.durationS - 1) < 0.01, `still one second (${clip.durationS})`);
  // Still a 440 Hz tone: zero crossings per second.
  let crossings = 0;
  for (let i = 1; i < clip.samples.length; i++) {
    if (Math.sign(clip.samples[i] as number) !== Math.sign(clip.samples[i - 1] as number)) crossings++;
  }
  assert.ok(Math.abs(crossings / clip.durationS - 880) < 10, `${crossings} crossings`);
});
