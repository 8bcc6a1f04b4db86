/**
 * The decode batcher: calls that wait while a run is under way go together into the next one,
 * each caller gets its own result (or its own error), runs respect maxBatch, a released sequence
 * is not waited for and an idle one only for gatherMs. Then the batched graph behind it
 * (test/fixtures/tiny/batch/gpt_batch_fp32.onnx through BatchedGpt): concurrent generations
 * through the batcher get exactly the codes they get alone through today's batch-1 path.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSession, type Session } from '../runtime/index.ts';
import { BatchedGpt } from './batch.ts';
import { batchedDecode, DecodeBatcher, type DecodeItem, type DecodeMany, sequentialDecode } from './decode-batcher.ts';
import { generateCodes, UniformSource } from './generate.ts';
import type { DecodeResult, DecodeSettings, Gpt, GptKvCache } from './gpt.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const tick = () => new Promise<void>((ok) => setImmediate(ok));
const settings: DecodeSettings = { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1 };
const cache = (name: string) => ({ name }) as unknown as GptKvCache;

/** A decode that answers each item with its own uniforms, scaled (so a mixed-up answer shows), and records batches. */
function recording(): DecodeMany & { sizes: number[] } {
  const sizes: number[] = [];
  return {
    sizes,
    async decodeMany(items: readonly DecodeItem[]) {
      sizes.push(items.length);
      await tick();
      return items.map((it) => ({
        codes: Array.from(it.uniforms, (u) => Math.round(u * 1000)),
        latents: new Float32Array(0),
        width: 0,
      }));
    },
  };
}

/** A sequence: `rounds` decode calls, its own uniforms each time, some work of its own between them. */
async function sequence(b: DecodeBatcher, c: GptKvCache, k: number, rounds: number, work = 1): Promise<number[]> {
  const got: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const u = Float32Array.of((k * 10 + r) / 1000);
    const out = await b.decode(c, u, settings);
    got.push(...out.codes);
    for (let w = 0; w < work; w++) await tick();
  }
  b.release(c);
  return got;
}

describe('DecodeBatcher', () => {
  it('groups the calls that wait, and gives each caller its own result', async () => {
    const impl = recording();
    const b = new DecodeBatcher(impl, { maxBatch: 8 });
    const got = await Promise.all([1, 2, 3, 4].map((k) => sequence(b, cache(`s${k}`), k, 5, k)));
    for (const [i, g] of got.entries())
      assert.deepEqual(
        g,
        [0, 1, 2, 3, 4].map((r) => (i + 1) * 10 + r),
      );
    assert.ok(Math.max(...impl.sizes) === 4, `batches ${impl.sizes}`);
    assert.equal(
      impl.sizes.reduce((a, n) => a + n, 0),
      20,
    );
    assert.ok(impl.sizes.length < 10, `${impl.sizes.length} runs for 20 calls: ${impl.sizes}`);
    assert.deepEqual(
      b.stats.sizes,
      impl.sizes.reduce<Record<number, number>>((h, n) => {
        h[n] = (h[n] ?? 0) + 1;
        return h;
      }, {}),
    );
    assert.equal(b.sequences, 0, 'every sequence released');
  });

  it('never puts more than maxBatch in one run', async () => {
    const impl = recording();
    const b = new DecodeBatcher(impl, { maxBatch: 2 });
    const got = await Promise.all([1, 2, 3, 4, 5].map((k) => sequence(b, cache(`s${k}`), k, 3)));
    for (const [i, g] of got.entries())
      assert.deepEqual(
        g,
        [0, 1, 2].map((r) => (i + 1) * 10 + r),
      );
    assert.equal(Math.max(...impl.sizes), 2);
    assert.ok(impl.sizes.filter((n) => n === 2).length >= 4, `batches ${impl.sizes}`);
  });

  it('a failing item fails only its caller (sequential decode)', async () => {
    const bad = cache('bad');
    const gpt = {
      async decode(c: GptKvCache, u: Float32Array): Promise<DecodeResult> {
        await tick();
        if (c === bad) throw new Error('this one fails');
        return { codes: [Math.round((u[0] as number) * 1000)], latents: new Float32Array(0), width: 0 };
      },
    };
    const b = new DecodeBatcher(sequentialDecode(gpt), { maxBatch: 4 });
    const first = b.decode(cache('warm'), Float32Array.of(0.001), settings); // holds the device
    const calls = [
      b.decode(cache('a'), Float32Array.of(0.002), settings),
      b.decode(bad, Float32Array.of(0.003), settings),
    ];
    calls.push(b.decode(cache('c'), Float32Array.of(0.004), settings));
    await first;
    const [a, failed, c] = await Promise.allSettled(calls);
    assert.deepEqual(a, { status: 'fulfilled', value: { codes: [2], latents: new Float32Array(0), width: 0 } });
    assert.equal(failed?.status, 'rejected');
    assert.deepEqual((c as PromiseFulfilledResult<DecodeResult>).value.codes, [4]);
    assert.deepEqual(b.stats.sizes, { 1: 1, 3: 1 });
  });

  it('waits for a generation still in its prefill, so a new sentence joins the next run', async () => {
    const impl = recording();
    const b = new DecodeBatcher(impl, { maxBatch: 8, gatherMs: 10_000 });
    // A stand-in GPT: prefill takes `ticks` turns of the event loop (a slow one: a long prompt).
    const own = {
      async prefill(ticks: number) {
        for (let i = 0; i < ticks; i++) await tick();
        return { cache: cache(`p${ticks}`) };
      },
    } as unknown as Gpt;
    async function* generation(gpt: Gpt, ticks: number, k: number) {
      const { cache: c } = await (gpt.prefill as unknown as (t: number) => Promise<{ cache: GptKvCache }>)(ticks);
      for (let r = 0; r < 2; r++) yield (await gpt.decode(c, Float32Array.of((k * 10 + r) / 1000), settings)).codes;
    }
    const drain = async (g: AsyncGenerator<number[]>) => {
      const out: number[] = [];
      for await (const codes of g) out.push(...codes);
      return out;
    };
    const t = performance.now();
    const got = await Promise.all([
      drain(b.generate(own, (gpt) => generation(gpt, 1, 1))),
      drain(b.generate(own, (gpt) => generation(gpt, 20, 2))),
    ]);
    assert.deepEqual(got, [
      [10, 11],
      [20, 21],
    ]);
    assert.deepEqual(impl.sizes, [2, 2], 'the quick one waited for the other to finish its prefill');
    assert.ok(performance.now() - t < 5000, 'and did not wait out gatherMs');
    assert.equal(b.sequences, 0);
  });

  it('waits for an open sequence at most gatherMs, and not at all for a released one', async () => {
    const impl = recording();
    const b = new DecodeBatcher(impl, { maxBatch: 8, gatherMs: 200 });
    const idle = cache('idle');
    const busy = cache('busy');
    await b.decode(idle, Float32Array.of(0.001), settings);
    await b.decode(busy, Float32Array.of(0.002), settings);
    // `idle` is open and silent: `busy` waits for it, but only gatherMs.
    let t = performance.now();
    await b.decode(busy, Float32Array.of(0.003), settings);
    const waited = performance.now() - t;
    assert.ok(waited >= 150, `ran after ${waited.toFixed(0)} ms, before gatherMs`);
    // Released, it is no longer waited for.
    b.release(idle);
    t = performance.now();
    await b.decode(busy, Float32Array.of(0.004), settings);
    assert.ok(performance.now() - t < 150, 'waited for a released sequence');
    b.release(busy);
    assert.equal(b.sequences, 0);
  });
});

describe('DecodeBatcher over the batched graph (tiny fixture, fp32, CPU)', () => {
  let x: Xtts;
  let session: Session;
  before(async () => {
    x = await Xtts.load(join(fixture, 'package'), { warmUp: false });
    session = await openSession(join(fixture, 'batch', 'gpt_batch_fp32.onnx'));
  });
  after(async () => {
    await session.release();
    await x.release();
  });

  const SPECS: { text: string; seed: number; settings: DecodeSettings; maxCodes: number }[] = [
    { text: 'Hello, world! This is a test.', seed: 1, settings: { ...settings, repetitionPenalty: 5 }, maxCodes: 50 },
    {
      text: 'The quick brown fox jumps over the lazy dog.',
      seed: 2,
      settings: { temperature: 0.8, topK: 50, topP: 0.85, repetitionPenalty: 2 },
      maxCodes: 40,
    },
    {
      text: 'It was a bright cold day in April.',
      seed: 3,
      settings: { temperature: 1.2, topK: 0, topP: 0.7, repetitionPenalty: 1 },
      maxCodes: 60,
    },
    { text: 'Four score and seven years ago.', seed: 4, settings, maxCodes: 30 },
  ];

  const generate = (gpt: Gpt, s: (typeof SPECS)[number]) => {
    return generateCodes(gpt, { data: voiceLatent(), shape: condShape() }, x.sentenceIds(s.text, 'en')[0] as number[], {
      settings: s.settings,
      rng: new UniformSource(s.seed),
      runCodes: 8,
      maxCodes: s.maxCodes,
      babbleGuard: null,
    });
  };
  const condShape = () => {
    const c = x.pkg.manifest.model.config;
    return [1, c.perceiver_latents, c.gpt_n_model_channels];
  };
  // A fixed, non-trivial conditioning: the same for both paths.
  const voiceLatent = () => {
    const [, n, w] = condShape() as [number, number, number];
    return Float32Array.from({ length: n * w }, (_, i) => Math.sin(i * 0.37) * 0.5);
  };
  const collect = async (runs: AsyncIterable<{ codes: number[]; latents: Float32Array }>) => {
    const codes: number[] = [];
    const latents: number[] = [];
    for await (const r of runs) {
      codes.push(...r.codes);
      latents.push(...r.latents);
      await tick(); // the caller's own work between runs (HiFi-GAN in the engine)
    }
    return { codes, latents };
  };

  it('concurrent generations through the batcher get exactly the codes they get alone', async (t) => {
    const want = [];
    for (const s of SPECS) want.push(await collect(generate(x.gpt, s)));
    const driver = new BatchedGpt(session, { audioStop: x.gpt.stopCode });
    const b = new DecodeBatcher(batchedDecode(driver), { maxBatch: 8 });
    const got = await Promise.all(SPECS.map((s) => collect(b.generate(x.gpt, (gpt) => generate(gpt, s)))));
    let worst = 0;
    for (const [i, g] of got.entries()) {
      assert.deepEqual(g.codes, want[i]?.codes, `sequence ${i}: codes`);
      assert.equal(g.latents.length, want[i]?.latents.length);
      for (const [k, v] of g.latents.entries()) worst = Math.max(worst, Math.abs(v - (want[i]?.latents[k] as number)));
    }
    assert.ok(worst < 1e-4, `latents max abs difference ${worst}`);
    assert.ok(b.stats.largest >= 3, `batches ${JSON.stringify(b.stats.sizes)}`);
    assert.equal(driver.size, 0, 'every sequence left the batched driver');
    t.diagnostic(`batches ${JSON.stringify(b.stats.sizes)}; latents max abs difference from batch-1 ${worst}`);
  });
});
