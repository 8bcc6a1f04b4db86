import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type Checkpoint, insertVoice, migrate, openDb } from '../db/index.ts';
import { AudioInputError, SandboxBusyError, SandboxCancelledError } from '../inference/index.ts';
import { audioInputError, packagePathIn, VoiceError } from './index.ts';
import { readPackage } from './packages.ts';
import { conditioningFor } from './voices.ts';

/** A voice error with its code, field and wait, checked in one assertion. */
const voiceError = (code: string, field?: string, retryAfterS?: number) => (err: unknown) => {
  assert.ok(err instanceof VoiceError, String(err));
  assert.deepEqual([err.code, err.field, err.retryAfterS], [code, field, retryAfterS]);
  return true;
};

describe('voices: failures keep the stable codes and name the field at fault', () => {
  const modelDir = mkdtempSync(join(tmpdir(), 'xtts-voices-'));
  after(() => rmSync(modelDir, { recursive: true, force: true }));

  it('audio the sandbox refuses: undecodable is AUDIO_INVALID, the rest keep their code', () => {
    assert.throws(
      () => audioInputError(new AudioInputError('AUDIO_NOT_AUDIO', 'not audio'), 'body.clips.0'),
      voiceError('AUDIO_INVALID', 'body.clips.0'),
    );
    assert.throws(
      () => audioInputError(new AudioInputError('AUDIO_NO_SPEECH', 'a tone'), 'body.audio'),
      voiceError('AUDIO_NO_SPEECH', 'body.audio'),
    );
    assert.throws(
      () => audioInputError(new SandboxBusyError('busy'), 'body.audio'),
      voiceError('OVERLOADED', undefined, 5),
    );
    assert.throws(() => audioInputError(new SandboxCancelledError('stopping'), 'body.audio'), voiceError('NOT_READY'));
    const other = new Error('something else');
    assert.throws(
      () => audioInputError(other, 'body.audio'),
      (err) => err === other,
    );
  });

  it('a package path outside the model folder is refused; inside it resolves', () => {
    assert.throws(() => packagePathIn(modelDir, '../elsewhere'), voiceError('VALIDATION_FAILED', 'body.package_path'));
    assert.throws(() => packagePathIn(modelDir, '/etc'), voiceError('VALIDATION_FAILED', 'body.package_path'));
    assert.equal(packagePathIn(modelDir, 'tiny'), join(modelDir, 'tiny'));
  });

  it('a folder without a package is MODEL_NOT_FOUND', async () => {
    await assert.rejects(readPackage(join(modelDir, 'missing')), voiceError('MODEL_NOT_FOUND', 'body.package_path'));
  });
});

describe('voices: conditioning kept in memory', () => {
  it("reads a voice's conditioning for a package from the database once, then hands back the kept copy", async () => {
    const h = await openDb({});
    await migrate(h);
    try {
      const lat = Float32Array.from({ length: 32 * 8 }, (_, i) => i / 7);
      const spk = Float32Array.from({ length: 16 }, (_, i) => -i);
      const { voice } = await insertVoice(h.db, { name: 'kept', language: 'en' }, [], {
        packageKey: 'pkg-a',
        gptCondLatent: Buffer.from(lat.buffer),
        gptCondShape: [1, 32, 8],
        speakerEmbedding: Buffer.from(spk.buffer),
        speakerShape: [1, 16, 1],
      });
      const checkpoint = { packageKey: 'pkg-a' } as Checkpoint;
      let reads = 0;
      const counting = new Proxy(h.db, {
        get: (target, key, receiver) => {
          if (key === 'select') reads++;
          return Reflect.get(target, key, receiver);
        },
      });
      const deps = { db: counting, dataDir: tmpdir(), engine: undefined };
      const first = await conditioningFor(deps, voice, checkpoint);
      assert.deepEqual(first.gptCondLatent, lat);
      assert.deepEqual(first.speakerEmbedding, spk);
      assert.equal(reads, 1);
      const again = await conditioningFor(deps, voice, checkpoint);
      assert.equal(again, first, 'the kept copy');
      assert.equal(reads, 1, 'no second read');
      // Another package's conditioning of the same voice is its own entry (not stored here: computed, and
      // no engine to compute it).
      await assert.rejects(conditioningFor(deps, voice, { packageKey: 'pkg-b' } as Checkpoint));
      assert.equal(reads, 3, 'looked up, then the clips listed');
    } finally {
      await h.close();
    }
  });
});
