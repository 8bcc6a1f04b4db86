import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeAudio } from './decode.ts';
import { AudioInputError } from './errors.ts';
import { loadReference } from './reference.ts';
import { bytes, sox, soxInfo, speak, TOOLS_MISSING, workDir } from './testaudio.ts';

const dir = TOOLS_MISSING ? '' : workDir();
const wav = TOOLS_MISSING ? '' : speak(dir, 'The quick brown fox jumps over the lazy dog.');

for (const [name, args] of [
  ['speech.flac', ['-r', '44100']],
  ['speech.ogg', ['-r', '48000']],
  ['speech.mp3', ['-C', '128']],
  ['speech16.wav', ['-r', '16000', '-b', '16']],
] as const) {
  test(`decodes ${name} at the rate and length sox reports`, { skip: TOOLS_MISSING }, async () => {
    const path = join(dir, name);
    sox(wav, ...args, path);
    const info = soxInfo(path);
    const { samples, sampleRate } = await decodeAudio(bytes(path));
    assert.equal(sampleRate, info.rate);
    // mp3 decoders differ by an encoder delay/padding of up to ~2 frames (1152 samples each)
    const tolerance = name.endsWith('.mp3') ? 2400 : 0;
    assert.ok(Math.abs(samples.length - info.samples) <= tolerance, `${samples.length} vs ${info.samples}`);
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    assert.ok(peak > 0.05 && peak <= 1, `peak ${peak}`);
  });
}

test('stereo is the mean of the channels', { skip: TOOLS_MISSING }, async () => {
  const stereo = join(dir, 'stereo.wav');
  // left = speech, right = silence: the mono mix must be half the speech
  sox(wav, stereo, 'remix', '1', '1v0');
  assert.equal(soxInfo(stereo).channels, 2);
  const mono = (await decodeAudio(bytes(stereo))).samples;
  const original = (await decodeAudio(bytes(wav))).samples;
  assert.equal(mono.length, original.length);
  let maxErr = 0;
  for (let i = 0; i < mono.length; i++)
    maxErr = Math.max(maxErr, Math.abs((mono[i] as number) - (original[i] as number) / 2));
  assert.ok(maxErr < 1e-6, `${maxErr}`);
});

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AudioInputError, String(e));
    return e.code;
  }
  return 'no error';
};

test('not audio, corrupt, silent and too short inputs get typed errors', { skip: TOOLS_MISSING }, async () => {
  assert.equal(await code(decodeAudio(new TextEncoder().encode('hello, this is not a sound file'))), 'AUDIO_NOT_AUDIO');
  const flac = bytes(join(dir, 'speech.flac'));
  const corrupt = flac.slice(0, 64);
  corrupt.fill(0xab, 8);
  // The STREAMINFO block is overwritten: its fields are refused before any decoding.
  assert.equal(await code(decodeAudio(corrupt)), 'AUDIO_HEADER_INVALID');
  assert.equal(await code(decodeAudio(flac.slice(0, 30))), 'AUDIO_CORRUPT');

  const silent = join(dir, 'silent.wav');
  sox('-n', '-r', '22050', '-c', '1', '-b', '16', silent, 'trim', '0', '2');
  assert.equal(await code(loadReference(bytes(silent))), 'AUDIO_SILENT');

  const short = join(dir, 'short.wav');
  sox(wav, short, 'trim', '0.5', '0.2');
  assert.equal(await code(loadReference(bytes(short))), 'AUDIO_TOO_SHORT');
});

test('a reference is cut to max seconds at 22050 Hz', { skip: TOOLS_MISSING }, async () => {
  const ref = await loadReference(bytes(join(dir, 'speech.ogg')), { maxSeconds: 1.5 });
  assert.equal(ref.length, Math.floor(1.5 * 22050));
});
