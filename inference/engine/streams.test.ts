/**
 * Several requests at once in one worker (maxStreams), their GPT decode runs batched: every
 * request gets exactly the audio and codes it gets from an engine that runs one request at a time
 * (maxStreams 1, the direct decode path), whatever runs beside it, whoever joins or is cancelled;
 * and the decode runs really carry several generations (the test fails if they degenerate into
 * one at a time). The batched decode graph through the native addon (native: 'auto', the addon built
 * here as native.test.ts builds it) gives exactly the bytes of the onnxruntime-node batched path.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addTinyBatchGraph } from '../xtts/tiny-graphs.ts';
import { createEngine, type LocalEngine, nativeDecodePath } from './engine.ts';
import { type AudioChunk, EngineError, type SynthesisParams, type VoiceConditioning } from './types.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const pkg = join(fixture, 'package');
const clip = readFileSync(join(fixture, 'ref.wav'));
const MAX_CODES = 80;

type Spec = { text: string; params: Partial<SynthesisParams> };
/** Different texts, seeds and sampling settings (greedy with penalties, sampled with their own top-k/top-p). */
const SPECS: Spec[] = [
  {
    text: 'Hello, world! This is a test. It was a bright cold day in April, and the clocks were striking thirteen. Nobody heard them.',
    params: { seed: 11 },
  },
  {
    text: 'The quick brown fox jumps over the lazy dog. Then it ran into the forest, far away from the farm, and was never seen again.',
    params: { seed: 22, temperature: 0.6, topK: 20, topP: 0.9, repetitionPenalty: 3 },
  },
  {
    text: 'It was a bright cold day in April.',
    params: { seed: 33, temperature: 1, topK: 1, topP: 1, repetitionPenalty: 5 },
  },
  { text: 'Four score and seven years ago our fathers.', params: { seed: 44, temperature: 1.1, topK: 80, topP: 0.7 } },
];

type Streamed = { chunks: Buffer[]; final: boolean[] };
type Whole = { samples: Buffer; codes: number[][] };

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

async function stream(
  engine: LocalEngine,
  voice: VoiceConditioning,
  s: Spec,
  onChunk?: (i: number) => void,
  packageDir = pkg,
) {
  const out: Streamed = { chunks: [], final: [] };
  for await (const c of engine.synthesize({ packageDir, language: 'en', voice, ...s }) as AsyncIterable<AudioChunk>) {
    out.chunks.push(Buffer.from(bytes(c.samples)));
    out.final.push(c.final);
    onChunk?.(out.chunks.length);
  }
  return out;
}

async function render(engine: LocalEngine, voice: VoiceConditioning, s: Spec, packageDir = pkg): Promise<Whole> {
  const r = await engine.render({ packageDir, language: 'en', voice, ...s });
  return { samples: Buffer.from(bytes(r.samples)), codes: r.codes };
}

function sameStream(got: Streamed, want: Streamed, what: string) {
  assert.equal(got.chunks.length, want.chunks.length, `${what}: chunk count`);
  assert.deepEqual(got.final, want.final, `${what}: final flags`);
  for (const [i, c] of got.chunks.entries())
    assert.ok(c.equals(want.chunks[i] as Buffer), `${what}: chunk ${i} differs from the request run alone`);
}

async function idle(engine: LocalEngine): Promise<void> {
  while (engine.stats().active > 0) await new Promise((ok) => setTimeout(ok, 5));
}

/** What each request gives alone: one request at a time, the direct decode path (no batcher). Made once, when first asked for. */
let referenceRun: ReturnType<typeof makeReference> | null = null;
const reference = () => {
  referenceRun ??= makeReference();
  return referenceRun;
};
const makeReference = async () => {
  const alone = createEngine({ workers: 1, maxAudioCodes: MAX_CODES });
  try {
    const voice = await alone.computeVoice(pkg, [clip]);
    const streams: Streamed[] = [];
    const wholes: Whole[] = [];
    for (const s of SPECS) {
      streams.push(await stream(alone, voice, s));
      wholes.push(await render(alone, voice, s));
    }
    return { voice, streams, wholes };
  } finally {
    await alone.close();
  }
};

describe('one worker serving several streams (maxStreams), decode runs batched', () => {
  let shared: LocalEngine;
  let voice: VoiceConditioning;
  const wantStream: Streamed[] = [];
  const wantWhole: Whole[] = [];

  before(async () => {
    const r = await reference();
    voice = r.voice;
    wantStream.push(...r.streams);
    wantWhole.push(...r.wholes);
    shared = createEngine({ workers: 1, maxStreams: SPECS.length, maxQueue: 4, maxAudioCodes: MAX_CODES });
    await shared.preload(pkg);
  });
  after(() => shared.close());

  it('the reference requests are long enough to need several decode runs, and differ', (t) => {
    t.diagnostic(`codes per sentence: ${wantWhole.map((w) => w.codes.map((c) => c.length).join('+')).join(', ')}`);
    for (const [i, w] of wantWhole.entries())
      assert.ok((w.codes[0]?.length ?? 0) > 20, `request ${i}: ${w.codes[0]?.length} codes`);
    for (const w of wantStream) assert.ok(w.chunks.length >= 2);
    assert.equal(new Set(wantWhole.map((w) => JSON.stringify(w.codes))).size, SPECS.length);
  });

  it('N concurrent streams give exactly the bytes each gives alone, through shared decode runs', async (t) => {
    const before = shared.decodeBatches;
    const got = await Promise.all(SPECS.map((s) => stream(shared, voice, s)));
    for (const [i, g] of got.entries()) sameStream(g, wantStream[i] as Streamed, `stream ${i}`);
    const after = shared.decodeBatches;
    const runs = after.runs - before.runs;
    const carried = after.sequences - before.sequences;
    assert.ok(runs > 0, 'decode runs went through the batcher');
    assert.ok(after.largest > 1, `largest decode batch ${after.largest}`);
    assert.ok(carried / runs > 1.5, `mean decode batch ${carried}/${runs}: the streams did not share runs`);
    t.diagnostic(`${runs} decode runs carried ${carried} generation runs; by size ${JSON.stringify(after.sizes)}`);
    await idle(shared);
  });

  it('N concurrent whole renders give exactly the codes and samples of each alone', async () => {
    const got = await Promise.all(SPECS.map((s) => render(shared, voice, s)));
    for (const [i, g] of got.entries()) {
      assert.deepEqual(g.codes, wantWhole[i]?.codes, `render ${i}: codes`);
      assert.ok(g.samples.equals(wantWhole[i]?.samples as Buffer), `render ${i}: samples differ`);
    }
    await idle(shared);
  });

  it('a stream cancelled mid-way leaves the others exactly as they are alone, and frees its lane', async () => {
    const ac = new AbortController();
    const cancelled = (async () => {
      let n = 0;
      for await (const _ of shared.synthesize({
        packageDir: pkg,
        language: 'en',
        voice,
        ...SPECS[1],
        signal: ac.signal,
      } as never)) {
        if (++n === 1) ac.abort();
      }
    })();
    const others = [0, 2, 3].map((i) => stream(shared, voice, SPECS[i] as Spec));
    await assert.rejects(cancelled, (e) => e instanceof EngineError && e.code === 'CANCELLED');
    const got = await Promise.all(others);
    for (const [k, i] of [0, 2, 3].entries()) sameStream(got[k] as Streamed, wantStream[i] as Streamed, `stream ${i}`);
    await idle(shared);
    assert.deepEqual(shared.stats(), { active: 0, queued: 0, packages: [pkg] });
  });

  it('a request that joins while others are mid-stream gets its own exact output, in shared runs', async () => {
    const before = shared.decodeBatches;
    let joinedAt = -1;
    let joiner: Promise<Streamed> | null = null;
    const chunksAfterJoin: [number, number] = [0, 0];
    const running = [0, 1].map((i) =>
      stream(shared, voice, SPECS[i] as Spec, (n) => {
        if (joiner) chunksAfterJoin[i as 0 | 1]++;
        if (i === 0 && n === 1 && !joiner) {
          joinedAt = n;
          joiner = stream(shared, voice, SPECS[3] as Spec);
        }
      }),
    );
    const got = await Promise.all(running);
    assert.ok(joiner, 'the third request started');
    const late = await (joiner as Promise<Streamed>);
    assert.equal(joinedAt, 1);
    assert.ok(chunksAfterJoin[0] > 0 && chunksAfterJoin[1] > 0, 'both were still streaming when it joined');
    sameStream(got[0] as Streamed, wantStream[0] as Streamed, 'stream 0');
    sameStream(got[1] as Streamed, wantStream[1] as Streamed, 'stream 1');
    sameStream(late, wantStream[3] as Streamed, 'the late stream');
    const after = shared.decodeBatches;
    const threes = (after.sizes[3] ?? 0) - (before.sizes[3] ?? 0);
    assert.ok(threes > 0, `no decode run carried all three: sizes ${JSON.stringify(after.sizes)}`);
    await idle(shared);
  });
});

/** Largest difference between two float32 sample buffers of the same length. */
function maxAbsDiff(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length, 'sample counts differ');
  const x = new Float32Array(a.buffer, a.byteOffset, a.length / 4);
  const y = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs((x[i] as number) - (y[i] as number)));
  return m;
}

const cxx = process.env.CXX ?? 'g++';
const noCompiler = spawnSync(cxx, ['--version']).error ? `no C++ compiler (${cxx}) on PATH` : false;
/** Builds the native addon as native.test.ts does (a no-op when it is up to date). */
const buildNative = () =>
  execFileSync('bash', [join(import.meta.dirname, '..', 'native', 'build.sh')], { encoding: 'utf8', timeout: 180_000 });

describe('which path the batched decode takes (nativeDecodePath)', () => {
  const built = () => ({ ok: true as const, ortVersion: '1.29.0' });
  const missing = () => ({
    ok: false as const,
    reason: 'not built: /x/ort_device.node is missing (npm run build:native; needs g++)',
  });
  const untouched = () => assert.fail('off must not load the addon');

  it("'off' takes onnxruntime-node without loading the addon, and logs nothing", () => {
    assert.deepEqual(nativeDecodePath('off', true, untouched), { native: false, line: null });
  });

  it("'auto' takes the addon where it loads, else onnxruntime-node, and the log line says which and why", () => {
    const yes = nativeDecodePath('auto', true, built);
    assert.equal(yes.native, true);
    assert.match(yes.line ?? '', /through the native addon.*onnxruntime 1\.29\.0/);
    const no = nativeDecodePath('auto', true, missing);
    assert.equal(no.native, false);
    assert.match(
      no.line ?? '',
      /through onnxruntime-node .*native addon unavailable: not built: .*npm run build:native/,
    );
  });

  it("'on' without the addon refuses with ERR_NATIVE_UNAVAILABLE and the addon's reason", () => {
    assert.throws(
      () => nativeDecodePath('on', true, missing),
      (e: Error & { code?: string }) =>
        e.code === 'ERR_NATIVE_UNAVAILABLE' &&
        /INFERENCE_NATIVE=on.*unavailable: not built: .*ort_device\.node/.test(e.message),
    );
    // Also where nothing is batched: 'on' asks for the addon, so its absence is an error at start.
    assert.throws(() => nativeDecodePath('on', false, missing), { code: 'ERR_NATIVE_UNAVAILABLE' });
    assert.equal(nativeDecodePath('on', true, built).native, true);
  });

  it('without a batched decode graph the setting changes nothing, and the log says so', () => {
    const r = nativeDecodePath('auto', false, built);
    assert.equal(r.native, false);
    assert.match(r.line ?? '', /has no effect/);
  });
});

for (const graph of ['gpt_batch_fp32', 'gpt_batch_fused_fp32'])
  describe(`several streams through the batched decode graph (batchedDecode, ${graph})`, () => {
    // The tiny package plus the fixture's batched graph (same weights), listed in its manifest as an exported one would be.
    const dir = mkdtempSync(join(tmpdir(), 'xtts-batch-'));
    const withBatch = join(dir, 'package');
    let engine: LocalEngine;
    let voice: VoiceConditioning;
    let want: Awaited<ReturnType<typeof reference>>;
    // What onnxruntime-node's batched path gives, made once and compared with the native path below.
    let renders: Promise<Whole[]> | null = null;
    let streams: Promise<Streamed[]> | null = null;
    const ortRenders = () => {
      renders ??= Promise.all(SPECS.map((s) => render(engine, voice, s, withBatch)));
      return renders;
    };
    const ortStreams = () => {
      streams ??= Promise.all(SPECS.map((s) => stream(engine, voice, s, undefined, withBatch)));
      return streams;
    };

    before(async () => {
      cpSync(pkg, withBatch, { recursive: true });
      await addTinyBatchGraph(withBatch, graph);
      want = await reference();
      engine = createEngine({ workers: 1, maxStreams: SPECS.length, batchedDecode: true, maxAudioCodes: MAX_CODES });
      voice = await engine.computeVoice(withBatch, [clip]);
      assert.ok(
        bytes(voice.gptCondLatent).equals(bytes(want.voice.gptCondLatent)),
        'the copy conditions voices the same',
      );
    });
    after(async () => {
      await engine?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('concurrent renders get exactly the codes they get alone, audio within float rounding', async (t) => {
      const got = await ortRenders();
      let worst = 0;
      for (const [i, g] of got.entries()) {
        assert.deepEqual(g.codes, want.wholes[i]?.codes, `render ${i}: codes`);
        worst = Math.max(worst, maxAbsDiff(g.samples, want.wholes[i]?.samples as Buffer));
      }
      const b = engine.decodeBatches;
      assert.ok(b.graphRuns > 0 && b.graphRuns === b.runs, `runs ${b.runs}, through the batched graph ${b.graphRuns}`);
      assert.equal(b.graph, graph, "the package's batched graph is the one that ran");
      assert.ok(b.largest > 1 && b.sequences / b.runs > 1.5, `batches ${JSON.stringify(b.sizes)}`);
      assert.equal(b.nativeRuns, 0, 'native is off by default');
      // Codes are exact; latents of padded rows differ from the batch-1 graph's in the last bits (batch.test.ts).
      assert.ok(worst < 1e-3, `samples max abs difference ${worst}`);
      t.diagnostic(`samples max abs difference from the batch-1 path ${worst}; batches ${JSON.stringify(b.sizes)}`);
    });

    it('concurrent streams give the same chunks as alone, within float rounding', async (t) => {
      const got = await ortStreams();
      let worst = 0;
      for (const [i, g] of got.entries()) {
        const w = want.streams[i] as Streamed;
        assert.deepEqual(g.final, w.final, `stream ${i}: chunk boundaries`);
        for (const [k, c] of g.chunks.entries()) worst = Math.max(worst, maxAbsDiff(c, w.chunks[k] as Buffer));
      }
      assert.ok(worst < 1e-3, `samples max abs difference ${worst}`);
      t.diagnostic(`samples max abs difference from the batch-1 path ${worst}`);
      await idle(engine);
    });

    describe('through the native addon (native: auto)', { skip: noCompiler }, () => {
      let native: LocalEngine;
      const logged: string[] = [];
      before(async () => {
        buildNative();
        native = createEngine({
          workers: 1,
          maxStreams: SPECS.length,
          batchedDecode: true,
          native: 'auto',
          log: (line) => logged.push(line),
          maxAudioCodes: MAX_CODES,
        });
        await native.preload(withBatch);
      });
      after(() => native?.close());

      it('the log says the batched decode takes the native path', () => {
        assert.equal(logged.length, 1, logged.join('\n'));
        assert.match(logged[0] as string, /batched decode through the native addon\b.*INFERENCE_NATIVE=auto/);
      });

      // Through the addon the prefill and HiFi-GAN runs leave the worker's thread free (host-session.ts),
      // so which renders share a decode run depends on timing, and a row's latents differ in the last
      // bits with the batch's padding (batch.test.ts): the same codes, samples within float rounding.
      it("concurrent renders give onnxruntime-node's batched codes, samples within float rounding, every run native", async (t) => {
        const want0 = await ortRenders();
        const got = await Promise.all(SPECS.map((s) => render(native, voice, s, withBatch)));
        let worst = 0;
        for (const [i, g] of got.entries()) {
          assert.deepEqual(g.codes, want.wholes[i]?.codes, `render ${i}: codes as alone`);
          worst = Math.max(worst, maxAbsDiff(g.samples, want0[i]?.samples as Buffer));
        }
        assert.ok(worst < 1e-4, `samples max abs difference ${worst}`);
        t.diagnostic(`samples max abs difference from onnxruntime-node's batched renders ${worst}`);
        const b = native.decodeBatches;
        assert.ok(b.runs > 0 && b.nativeRuns === b.runs, `runs ${b.runs}, through the native addon ${b.nativeRuns}`);
        assert.equal(b.graph, graph);
        // Prefills run off the worker's thread here, so how many renders share each run depends on when
        // each one's prefill ends (under load, often one at a time at first): some run must be shared.
        assert.ok(b.largest > 1, `batches ${JSON.stringify(b.sizes)}`);
        await idle(native);
      });

      // Which streams share a run depends on when each one's chunks are asked for, and a row's latents
      // differ in the last bits with the batch's padding (batch.test.ts): the same chunks (count and
      // final flags), audio within float rounding. (A whole render, above, is byte for byte.)
      it("concurrent streams give onnxruntime-node's batched chunks, audio within float rounding", async (t) => {
        const want0 = await ortStreams();
        const before = native.decodeBatches;
        const got = await Promise.all(SPECS.map((s) => stream(native, voice, s, undefined, withBatch)));
        let worst = 0;
        for (const [i, g] of got.entries()) {
          const w = want0[i] as Streamed;
          assert.equal(g.chunks.length, w.chunks.length, `native stream ${i}: chunk count`);
          assert.deepEqual(g.final, w.final, `native stream ${i}: final flags`);
          for (const [k, c] of g.chunks.entries()) worst = Math.max(worst, maxAbsDiff(c, w.chunks[k] as Buffer));
        }
        assert.ok(worst < 1e-4, `samples max abs difference ${worst}`);
        t.diagnostic(`samples max abs difference from onnxruntime-node's batched streams ${worst}`);
        const after = native.decodeBatches;
        assert.equal(after.nativeRuns - before.nativeRuns, after.runs - before.runs, 'every run native');
        t.diagnostic(`native decode runs by size ${JSON.stringify(after.sizes)}`);
        await idle(native);
      });
    });

    // The package also has a fixed-shape step: through the addon it takes that one (StaticGpt).
    for (const step of ['gpt_step_static_fp32', 'gpt_step_static_inplace_fp32', 'gpt_step_static_dmmha_fp32'])
      describe(`with the fixed-shape step, through the native addon (${step})`, {
        skip:
          noCompiler ||
          (graph !== 'gpt_batch_fp32' ? 'once' : !existsSync(join(fixture, 'batch', `${step}.onnx`)) && `no ${step}`),
      }, () => {
        const withStatic = join(dir, `static-${step}`);
        let native: LocalEngine;
        let staticVoice: VoiceConditioning;
        before(async () => {
          buildNative();
          cpSync(withBatch, withStatic, { recursive: true });
          await addTinyBatchGraph(withStatic, step);
          native = createEngine({
            workers: 1,
            maxStreams: SPECS.length,
            batchedDecode: true,
            native: 'auto',
            log: () => {},
            maxAudioCodes: MAX_CODES,
            // Streams read their decode a run ahead of their audio here (not the default): the same chunks.
            streamDecodeAhead: 1,
          });
          staticVoice = await native.computeVoice(withStatic, [clip]);
          assert.ok(bytes(staticVoice.gptCondLatent).equals(bytes(voice.gptCondLatent)), 'the same voice');
        });
        after(() => native?.close());

        // Another graph, whose latents differ from the Loop's in the last bits (static.test.ts): the same codes,
        // so the same chunks, and audio within float rounding of onnxruntime-node's batched path.
        it("concurrent renders and streams give onnxruntime-node's batched codes and chunks, audio within float rounding", async (t) => {
          const [want0, wantStreams] = [await ortRenders(), await ortStreams()];
          const got = await Promise.all(SPECS.map((s) => render(native, staticVoice, s, withStatic)));
          let worst = 0;
          for (const [i, g] of got.entries()) {
            assert.deepEqual(g.codes, want.wholes[i]?.codes, `render ${i}: codes as alone`);
            worst = Math.max(worst, maxAbsDiff(g.samples, want0[i]?.samples as Buffer));
          }
          await idle(native);
          const streamed = await Promise.all(SPECS.map((s) => stream(native, staticVoice, s, undefined, withStatic)));
          for (const [i, g] of streamed.entries()) {
            const w = wantStreams[i] as Streamed;
            assert.deepEqual(g.final, w.final, `stream ${i}: chunk boundaries`);
            for (const [k, c] of g.chunks.entries()) worst = Math.max(worst, maxAbsDiff(c, w.chunks[k] as Buffer));
          }
          assert.ok(worst < 1e-3, `samples max abs difference ${worst}`);
          t.diagnostic(`samples max abs difference from onnxruntime-node's batched path ${worst}`);
          const b = native.decodeBatches;
          assert.equal(b.graph, step, 'the fixed-shape step ran');
          assert.ok(b.runs > 0 && b.nativeRuns === b.runs, `runs ${b.runs}, through the native addon ${b.nativeRuns}`);
          assert.ok(b.largest > 1 && b.sequences / b.runs > 1.5, `batches ${JSON.stringify(b.sizes)}`);
          t.diagnostic(`static decode runs by size ${JSON.stringify(b.sizes)}`);
          await idle(native);
        });
      });
  });

describe('closing a worker that serves several streams', () => {
  it('cancels every running stream, each caller hears, and the worker exits', async () => {
    const engine = createEngine({ workers: 1, maxStreams: 3, maxAudioCodes: MAX_CODES });
    const voice = await engine.computeVoice(pkg, [clip]);
    let first = () => {};
    const started = new Promise<void>((ok) => {
      first = ok;
    });
    const runs = [0, 1, 3].map((i) => stream(engine, voice, SPECS[i] as Spec, () => first()));
    await started;
    assert.equal(engine.stats().active, 3);
    const ended = Promise.allSettled(runs);
    await engine.close();
    const settled = await ended;
    for (const s of settled) {
      if (s.status === 'fulfilled') continue; // a stream may have finished before the close
      assert.ok(s.reason instanceof EngineError && s.reason.code === 'CANCELLED', String(s.reason));
    }
    assert.ok(
      settled.filter((s) => s.status === 'rejected').length >= 2,
      'the long streams were still running when the engine closed',
    );
    assert.equal(engine.restarts, 0, 'a closed worker is not replaced');
  });
});

describe('lanes and the bounded queue', () => {
  let engine: LocalEngine;
  let voice: VoiceConditioning;
  before(async () => {
    engine = createEngine({ workers: 1, maxStreams: 2, maxQueue: 1, maxAudioCodes: 40 });
    voice = await engine.computeVoice(pkg, [clip]);
  });
  after(() => engine.close());

  it('runs maxStreams jobs at once, queues up to maxQueue, and refuses the next', async () => {
    await idle(engine);
    const req = { packageDir: pkg, language: 'en', voice, text: 'Hello, world! This is a test.' };
    const jobs = [1, 2, 3].map((seed) => engine.render({ ...req, params: { seed } }));
    assert.deepEqual(engine.stats(), { active: 2, queued: 1, packages: [pkg] });
    await assert.rejects(engine.render(req), (e) => e instanceof EngineError && e.code === 'ENGINE_OVERLOADED');
    const done = await Promise.all(jobs);
    assert.equal(done.length, 3);
    await idle(engine);
    assert.deepEqual(engine.stats(), { active: 0, queued: 0, packages: [pkg] });
    assert.equal(engine.restarts, 0);
  });
});
