import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { espeakWav } from '../../test/helpers/speech.ts';
import { AudioInputError } from './errors.ts';
import { createAudioSandbox, SandboxBusyError, SandboxCancelledError } from './sandbox.ts';
import { encodeWav } from './wav.ts';

/** Two minutes of speech-like sound at 48 kHz: enough work to still be running when stopped. */
const long = () => {
  const rate = 48000;
  const x = new Float32Array(rate * 110);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i / 9) * Math.sin(i / 4000) ** 8 * 0.5;
  return encodeWav(x, rate);
};

describe('the audio sandbox', () => {
  const speech = espeakWav('Hello there, this is my voice.');
  const sandbox = createAudioSandbox();
  after(() => sandbox.close());

  it('prepares a reference: 22,050 Hz float WAV, the report, the upload rate', async () => {
    const r = await sandbox.prepareReference({ bytes: speech });
    assert.equal(r.sampleRate, 22050);
    assert.ok(r.durationS > 1);
    assert.ok(r.report.speechS > 0.5);
    assert.equal(String.fromCharCode(...r.wav.subarray(0, 4)), 'RIFF');
    assert.equal(new DataView(r.wav.buffer, r.wav.byteOffset).getUint16(20, true), 3, 'float samples');
  });

  it('prepares a recording as a mono PCM16 WAV at the asked rate; one already so is kept byte for byte', async () => {
    const r = await sandbox.recording({ bytes: speech }, 24000);
    const v = new DataView(r.wav.buffer, r.wav.byteOffset, r.wav.byteLength);
    assert.equal(v.getUint32(24, true), 24000);
    assert.equal(v.getUint16(34, true), 16, '16-bit samples');
    assert.equal(r.sampleRate, 24000);
    assert.equal(
      r.wav.length,
      44 + 2 * Math.ceil(((speech.length - 44) / 2) * (24000 / 22050)),
      'resampled, not re-labelled',
    );
    assert.ok(Math.abs(r.durationS - (speech.length - 44) / 2 / 22050) < 1e-3);
    const plain = encodeWav(
      Float32Array.from({ length: 24000 }, (_, i) => 0.3 * Math.sin(i / 5)),
      24000,
    );
    const kept = await sandbox.recording({ bytes: plain }, 24000);
    assert.deepEqual(kept.wav, plain);
    const err = await sandbox.recording({ bytes: long() }, 24000).catch((e) => e);
    assert.ok(err instanceof AudioInputError && err.code === 'AUDIO_TOO_LONG', String(err));
  });

  it('stops a job past its time budget with AUDIO_TOO_COMPLEX, and work goes on', async () => {
    const tight = createAudioSandbox({ baseMs: 1, msPerMb: 0 });
    try {
      const err = await tight.prepareReference({ bytes: long() }).catch((e) => e);
      assert.ok(err instanceof AudioInputError && err.code === 'AUDIO_TOO_COMPLEX', String(err));
    } finally {
      await tight.close();
    }
    assert.ok((await sandbox.prepareReference({ bytes: speech })).durationS > 1);
  });

  it('a warm sandbox replaces a worker it had to stop at once, before the next job', async () => {
    const warm = createAudioSandbox({ warm: true });
    try {
      assert.equal(warm.stats().workers, 1, 'started before any job');
      const abort = new AbortController();
      const job = warm.prepareReference({ bytes: long() }, abort.signal).catch((e) => e);
      await new Promise((r) => setTimeout(r, 50));
      abort.abort(); // the client went away: its worker is stopped mid-job
      assert.ok((await job) instanceof SandboxCancelledError);
      for (let i = 0; i < 500 && warm.stats().restarts === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        warm.stats(),
        { running: 0, queued: 0, workers: 1, restarts: 1 },
        'replaced with no job waiting',
      );
    } finally {
      await warm.close();
    }
  });

  it('cancels a running job when its signal aborts (the client went away), and goes on', async () => {
    const before = sandbox.stats().restarts;
    const abort = new AbortController();
    const job = sandbox.prepareReference({ bytes: long() }, abort.signal).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    abort.abort();
    assert.ok((await job) instanceof SandboxCancelledError);
    assert.equal(sandbox.stats().running, 0);
    assert.ok((await sandbox.prepareReference({ bytes: speech })).durationS > 1);
    assert.ok(sandbox.stats().restarts > before, 'the cancelled worker was replaced');
  });

  it('refuses work past its queue with SandboxBusyError, and rejects what waits when closed', async () => {
    const small = createAudioSandbox({ queue: 1 });
    const first = small.prepareReference({ bytes: long() }).catch((e) => e);
    const second = small.prepareReference({ bytes: speech }).catch((e) => e);
    const third = await small.prepareReference({ bytes: speech }).catch((e) => e);
    assert.ok(third instanceof SandboxBusyError);
    await small.close();
    assert.ok((await first) instanceof SandboxCancelledError);
    assert.ok((await second) instanceof SandboxCancelledError);
  });
});
