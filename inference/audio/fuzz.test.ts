// Fuzzing the audio parsers and decoders (WAV, FLAC, Ogg Opus and Vorbis, MP3): random bytes
// behind each container's magic, and random mutations of real files. Header checks (probe.ts)
// run in this thread, thousands of times; whole decodes run in the audio sandbox, as uploads do.
// Every input ends in audio or a typed AudioInputError, in bounded time and memory.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { limits } from '../../infra/index.ts';
import { type CorpusBases, corpusBases } from '../../test/helpers/hostile-audio.ts';
import { AudioInputError } from './errors.ts';
import { bufferSource, probeAudio } from './probe.ts';
import { type AudioSandbox, createAudioSandbox } from './sandbox.ts';

const MAGIC: Record<string, Uint8Array> = {
  wav: new Uint8Array(
    [...'RIFF']
      .map((c) => c.charCodeAt(0))
      .concat(
        [0, 1, 0, 0],
        [...'WAVE'].map((c) => c.charCodeAt(0)),
      ),
  ),
  flac: new TextEncoder().encode('fLaC'),
  ogg: new TextEncoder().encode('OggS'),
  mp3: new Uint8Array([0xff, 0xfb]),
  id3: new TextEncoder().encode('ID3'),
};
const ALL = ['wav', 'flac', 'ogg', 'mp3', 'aac', 'm4a'] as const;

/** A real file with bytes overwritten, inserted, deleted or cut. */
function mutated(base: Uint8Array) {
  const at = fc.nat(Math.max(0, base.length - 1));
  const edit = fc.oneof(
    fc.tuple(fc.constant('set' as const), at, fc.uint8Array({ minLength: 1, maxLength: 8 })),
    fc.tuple(fc.constant('insert' as const), at, fc.uint8Array({ minLength: 1, maxLength: 64 })),
    fc.tuple(fc.constant('delete' as const), at, fc.nat(64)),
    fc.tuple(fc.constant('cut' as const), at, fc.constant(0)),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let b = base;
    for (const [kind, pos, arg] of edits) {
      const p = Math.min(pos, b.length);
      if (kind === 'set') {
        b = b.slice();
        b.set((arg as Uint8Array).subarray(0, Math.max(0, b.length - p)), p);
      } else if (kind === 'insert') {
        const x = arg as Uint8Array;
        const n = new Uint8Array(b.length + x.length);
        n.set(b.subarray(0, p));
        n.set(x, p);
        n.set(b.subarray(p), p + x.length);
        b = n;
      } else if (kind === 'delete') {
        const n = new Uint8Array(Math.max(p, b.length - (arg as number)));
        n.set(b.subarray(0, p));
        n.set(b.subarray(Math.min(b.length, p + (arg as number))), p);
        b = n;
      } else b = b.subarray(0, p);
    }
    return b;
  });
}

const behindMagic = fc
  .tuple(fc.constantFrom(...Object.values(MAGIC)), fc.uint8Array({ maxLength: 2048 }))
  .map(([m, rest]) => {
    const b = new Uint8Array(m.length + rest.length);
    b.set(m);
    b.set(rest, m.length);
    return b;
  });

const typed = (err: unknown) => {
  assert.ok(err instanceof AudioInputError, `not a typed error: ${String(err)}`);
};

describe('audio parser fuzzing', () => {
  let bases: CorpusBases;
  let sandbox: AudioSandbox;
  before(async () => {
    bases = await corpusBases();
    sandbox = createAudioSandbox({ baseMs: 2000, queue: 1000 });
  });
  after(() => sandbox.close());

  it('header checks answer any bytes at once with a description or a typed error', () => {
    const files = () => [bases.wav, bases.flac, bases.mp3, bases.opus, bases.vorbis];
    fc.assert(
      fc.property(fc.oneof(behindMagic, fc.uint8Array({ maxLength: 512 }), ...files().map(mutated)), (bytes) => {
        try {
          const info = probeAudio(bufferSource(bytes), ALL);
          if (info.sampleRate !== undefined) {
            assert.ok(info.sampleRate >= limits.audio.minSampleRate && info.sampleRate <= limits.audio.maxSampleRate);
          }
          if (info.channels !== undefined) assert.ok(info.channels >= 1 && info.channels <= limits.audio.maxChannels);
          if (info.wav) assert.ok(info.wav.dataOffset + info.wav.dataBytes <= bytes.length);
        } catch (err) {
          typed(err);
        }
      }),
      { numRuns: 5000, seed: 21 },
    );
  });

  for (const kind of ['wav', 'flac', 'mp3', 'opus', 'vorbis'] as const) {
    it(`decoding mutated ${kind} in the sandbox ends in audio or a typed error, memory bounded`, async () => {
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      let decoded = 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutated(bases[kind]), behindMagic), async (bytes) => {
          try {
            const r = await sandbox.decode({ bytes });
            decoded++;
            assert.ok(r.samples.length > 0);
            assert.ok(r.samples.length <= limits.audio.maxRecordingSeconds * limits.audio.maxSampleRate);
            for (const v of r.samples) assert.ok(Number.isFinite(v));
          } catch (err) {
            typed(err);
          }
          peak = Math.max(peak, process.memoryUsage().rss);
        }),
        { numRuns: 60, seed: 22 },
      );
      const grown = (peak - rssBefore) / 1e6;
      console.log(
        `${kind}: 60 mutated files, ${decoded} decoded, the rest refused; peak memory +${grown.toFixed(0)} MB`,
      );
      assert.ok(grown < 400, `memory grew by ${grown.toFixed(0)} MB`);
      assert.equal(sandbox.stats().queued, 0);
    });
  }
});
