/**
 * StaticGpt (static.ts) on this host's CPU: the tiny fixture's fixed-shape decode step
 * (gpt_step_static_fp32), its state in tensors bound in place, gives each sequence exactly the codes
 * onnxruntime-node's batched path gives (BatchedGpt over gpt_batch_fp32), latents within 1e-5, from the
 * same prompts, uniforms and settings: sequences join at different times, one leaves early, one sits
 * a decode out, one stops at its first code, runs span several chunks and rows ask for different numbers
 * of codes. STATIC_STEP_GRAPH names another export of that graph to check (default: the fixture's).
 * The fused-operator variant (gpt_step_static_fused_fp32) through StaticGpt gives the plain step's codes,
 * and a package that has both opens the fused one through the addon.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { TINY_SETTINGS, tinySentenceIds } from '../../test/helpers/tiny.ts';
import { openSession, type Session } from '../runtime/index.ts';
import { BatchedGpt } from '../xtts/batch.ts';
import { UniformSource } from '../xtts/generate.ts';
import { type DecodeResult, type DecodeSettings, Gpt } from '../xtts/gpt.ts';
import { loadPackage, openSessionCount, type PackageOptions, staticSizes } from '../xtts/package.ts';
import { addTinyBatchGraph, tinyCondLatent } from '../xtts/tiny-graphs.ts';
import { Xtts } from '../xtts/xtts.ts';
import { DeviceSession, type DeviceTensor } from './index.ts';
import { BOUND_STEP, cacheOnDevice, StaticGpt, staticDims } from './static.ts';

const root = join(import.meta.dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'tiny');
const batchGraph = join(fixture, 'batch', 'gpt_batch_fp32.onnx');
const staticGraph = process.env.STATIC_STEP_GRAPH ?? join(fixture, 'batch', 'gpt_step_static_fp32.onnx');
const fusedGraph = join(fixture, 'batch', 'gpt_step_static_fused_fp32.onnx');
const inplaceGraph = join(fixture, 'batch', 'gpt_step_static_inplace_fp32.onnx');
const dmmhaGraph = join(fixture, 'batch', 'gpt_step_static_dmmha_fp32.onnx');
const xattnGraph = join(fixture, 'batch', 'gpt_step_static_xattn_fp32.onnx');
const xattn16Graph = join(fixture, 'batch', 'gpt_step_static_xattn_kv16_fp32.onnx');
const cond = tinyCondLatent();

const cxx = process.env.CXX ?? 'g++';
const skip = spawnSync(cxx, ['--version']).error
  ? `no C++ compiler (${cxx}) on PATH`
  : !existsSync(staticGraph)
    ? `no ${staticGraph}`
    : false;

const SETTINGS = TINY_SETTINGS;

describe('StaticGpt: the fixed-shape decode step, state bound in place', { skip }, () => {
  let x: Xtts;
  let ids: number[][];
  let host: Session;
  before(async () => {
    execFileSync('bash', [join(import.meta.dirname, 'build.sh')], { encoding: 'utf8', timeout: 180_000 });
    x = await Xtts.load(join(fixture, 'package'), { warmUp: false });
    ids = tinySentenceIds(x);
    host = await openSession(batchGraph);
  });
  after(async () => {
    await host?.release();
    await x?.release();
  });

  it('bad use gets a clear error with a stable code: free dims, full slots, too long, unknown members, closed', async () => {
    const free = DeviceSession.open(staticGraph, { threads: 1 });
    try {
      assert.throws(() => staticDims(free.path, free.inputs), {
        code: 'ERR_STATIC_GRAPH',
        message: /cache_k slots is "slots", not a size: open the step with dims \{ slots, max_len, chunk \}/,
      });
      assert.throws(() => new StaticGpt(free), { code: 'ERR_STATIC_GRAPH' });
    } finally {
      free.release();
    }
    assert.throws(() => StaticGpt.open(batchGraph, { slots: 2, maxLen: 96, chunk: 3 }), {
      code: 'ERR_STATIC_GRAPH',
      message: /gpt_batch_fp32\.onnx: not a fixed-shape decode step \(no input cache_k\)/,
    });
    const g = StaticGpt.open(staticGraph, { slots: 2, maxLen: 200, chunk: 3 }, { threads: 1 });
    assert.deepEqual(
      { slots: g.dims.slots, maxLen: g.dims.maxLen, chunk: g.dims.chunk, layers: g.dims.layers, vocab: g.dims.vocab },
      { slots: 2, maxLen: 200, chunk: 3, layers: 2, vocab: 1026 },
    );
    const prompt = async (k: number) => (await x.gpt.prefill(cond.data, cond.shape, ids[k] as number[])).cache;
    const prompt0 = await prompt(0);
    const a = g.join(await prompt(1));
    const b = g.join(await prompt(2));
    assert.throws(() => g.join(prompt0), {
      code: 'ERR_STATIC_FULL',
      message: /every one of the static step's 2 slots is taken/,
    });
    const u = new UniformSource(1).peek(200);
    const settings = SETTINGS[0] as DecodeSettings;
    await assert.rejects(g.decode([{ id: a, uniforms: u, settings }]), {
      code: 'ERR_STATIC_TOO_LONG',
      message: /member 1: \d+ positions and 200 more codes do not fit the static step's max_len 200/,
    });
    await assert.rejects(g.decode([{ id: 99, uniforms: u, settings }]), {
      code: 'ERR_STATIC_MEMBER',
      message: /no member 99/,
    });
    await assert.rejects(
      g.decode([
        { id: b, uniforms: u, settings },
        { id: b, uniforms: u, settings },
      ]),
      { code: 'ERR_STATIC_MEMBER', message: /a member appears twice/ },
    );
    // The rejected decodes changed nothing: the members run after them.
    const out = await g.decode([{ id: b, uniforms: u.subarray(0, 3), settings }]);
    assert.equal(out.get(b)?.codes.length, 3);
    g.drop(a);
    const small = StaticGpt.open(staticGraph, { slots: 1, maxLen: 20, chunk: 3 }, { threads: 1 });
    assert.throws(() => small.join(prompt0), {
      code: 'ERR_STATIC_TOO_LONG',
      message: /a sequence of \d+ positions leaves no room for a code: the static step holds 20/,
    });
    await small.close();
    await g.close();
    assert.throws(() => g.join(prompt0), { code: 'ERR_STATIC_CLOSED' });
  });

  it("gives each sequence exactly BatchedGpt's codes (latents within 1e-5): joins, a leave, a sit-out, several chunks", async (t) => {
    const hostBatch = new BatchedGpt(host, { audioStop: x.gpt.stopCode });
    // 4 slots, 160 KV columns (the longest prompt here is 77, and 40 codes follow), chunks of 5 steps:
    // a run of 8 codes takes two chunks.
    const dev = StaticGpt.open(staticGraph, { slots: 4, maxLen: 160, chunk: 5 }, { threads: 1, checkEvery: 2 });
    try {
      // Steps with every slot inactive, as at load: nothing that follows may differ.
      await dev.warmUp();
      type Seq = { k: number; hostId: number; devId: number; rng: UniformSource };
      /** stops: its logits made to give the stop code first (a row that stops at its first code). */
      const join = async (k: number, stops = false): Promise<Seq> => {
        const [a, b] = await Promise.all([
          x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
          x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
        ]);
        if (stops) for (const c of [a.cache, b.cache]) (c.feeds().logits?.data as Float32Array)[x.gpt.stopCode] = 1e4;
        return { k, hostId: hostBatch.join(a.cache), devId: dev.join(b.cache), rng: new UniformSource(100 + k) };
      };
      let live = await Promise.all([0, 1, 2].map((k) => join(k)));
      // Rounds: 0, 1 all three; 2 sequence 1 leaves and 3 joins (into its slot); 3 sequence 0 sits out and
      // sequence 2 asks for fewer codes (one chunk, part of it); 4 all again, and a fourth that stops at its
      // first code; 5 that one is dropped and another such one runs alone (the chunk ends early).
      let stopper: Seq | null = null;
      for (let round = 0; round < 6; round++) {
        if (round === 2) {
          hostBatch.drop((live[1] as Seq).hostId);
          dev.drop((live[1] as Seq).devId);
          live = [live[0] as Seq, live[2] as Seq, await join(3)];
          assert.equal(dev.slotOf((live[2] as Seq).devId), 1, 'the new sequence takes the freed slot');
        }
        if (round === 4 || round === 5) {
          if (stopper) {
            hostBatch.drop(stopper.hostId);
            dev.drop(stopper.devId);
          }
          stopper = await join(1, true);
        }
        const running =
          round === 3 ? live.slice(1) : round === 4 ? [...live, stopper as Seq] : round === 5 ? [stopper as Seq] : live;
        const count = (s: Seq) => (round === 3 && s.k === 2 ? 3 : 8);
        const req = (s: Seq, id: number) => ({
          id,
          uniforms: s.rng.peek(count(s)),
          settings: SETTINGS[s.k] as DecodeSettings,
        });
        const want = await hostBatch.decode(running.map((s) => req(s, s.hostId)));
        const got = await dev.decode(running.map((s) => req(s, s.devId)));
        let worst = 0;
        for (const s of running) {
          const w = want.get(s.hostId) as DecodeResult;
          const g = got.get(s.devId) as DecodeResult;
          assert.ok(w.codes.length > 0);
          if (s === stopper) assert.deepEqual(w.codes, [x.gpt.stopCode], 'the forced row stops at its first code');
          assert.deepEqual(g.codes, w.codes, `round ${round}, sequence ${s.k}: codes`);
          const err = maxAbsDiff(g.latents, w.latents);
          assert.ok(err <= 1e-5, `round ${round}, sequence ${s.k}: latents max abs error ${err}`);
          worst = Math.max(worst, err);
          s.rng.advance(g.codes.length);
          assert.equal(dev.generated(s.devId), hostBatch.generated(s.hostId));
          assert.equal(dev.length(s.devId), hostBatch.length(s.hostId));
        }
        t.diagnostic(
          `round ${round}: ${JSON.stringify(dev.lastStats)}, codes ${running.map((s) => (got.get(s.devId) as DecodeResult).codes.length).join(', ')}, latents max abs error ${worst}`,
        );
      }
      assert.deepEqual(
        dev.lastStats,
        { batch: 1, steps: 2, chunks: 1, joined: 1 },
        'a chunk whose rows all stopped ends at the next read of done',
      );
      // Sequence 0 leaves with its state and goes on alone through the batch-1 graph, as from the host batch.
      const s0 = live[0] as Seq;
      const hostCache = hostBatch.leave(s0.hostId);
      const devCache = await dev.leave(s0.devId);
      assert.equal(devCache.length, hostCache.length);
      assert.equal(devCache.generated, hostCache.generated);
      const u = s0.rng.peek(4);
      const a = await x.gpt.decode(hostCache, u, SETTINGS[0] as DecodeSettings);
      const b = await x.gpt.decode(devCache, u, SETTINGS[0] as DecodeSettings);
      assert.deepEqual(b.codes, a.codes);
      assert.ok(maxAbsDiff(b.latents, a.latents) <= 1e-5);
      assert.equal(dev.has(s0.devId), false);
      t.diagnostic(`totals ${JSON.stringify(dev.totals)}`);
    } finally {
      await dev.close();
    }
  });

  it("takes a prefill whose keys and values stayed in device memory: a host cache's codes, the tensors released once written", async () => {
    const pre = DeviceSession.open(join(fixture, 'package', 'gpt_prefill_fp32.onnx'), { threads: 1 });
    const sizes = { slots: 2, maxLen: 160, chunk: 5 };
    const a = StaticGpt.open(dmmhaGraph, sizes, { threads: 1 });
    const b = StaticGpt.open(dmmhaGraph, sizes, { threads: 1 });
    const onDevice = async (k: number) => {
      x.gpt.devicePrefill = pre;
      try {
        return (await x.gpt.prefill(cond.data, cond.shape, ids[k] as number[])).cache;
      } finally {
        x.gpt.devicePrefill = null;
      }
    };
    try {
      for (const k of [0, 2]) {
        const host = (await x.gpt.prefill(cond.data, cond.shape, ids[k] as number[])).cache;
        const dev = await onDevice(k);
        assert.equal(host.onDevice, false);
        assert.equal(dev.onDevice, true);
        assert.equal(dev.length, host.length);
        assert.equal(dev.bytes, host.bytes);
        assert.throws(() => dev.feeds(), /device memory: only the fixed-shape step takes it/);
        const keys = dev.parts().past_k as DeviceTensor;
        const ia = a.join(host);
        const ib = b.join(dev);
        assert.equal(dev.disposed, true, 'the join took the cache over');
        assert.equal(keys.released, false, 'kept until the next decode writes them');
        const u = new UniformSource(40 + k).peek(12);
        const settings = SETTINGS[k] as DecodeSettings;
        const want = (await a.decode([{ id: ia, uniforms: u, settings }])).get(ia) as DecodeResult;
        const got = (await b.decode([{ id: ib, uniforms: u, settings }])).get(ib) as DecodeResult;
        assert.ok(want.codes.length > 0);
        assert.deepEqual(got.codes, want.codes, `sequence ${k}: codes`);
        assert.ok(maxAbsDiff(got.latents, want.latents) <= 1e-5, `sequence ${k}: latents`);
        assert.equal(keys.released, true, 'released once written into the slot');
        a.drop(ia);
        b.drop(ib);
      }
      // Joined and leaving before its write: a batch-1 cache in host memory, the host cache's state.
      const early = await onDevice(2);
      const earlyKeys = early.parts().past_k as DeviceTensor;
      const left = await b.leave(b.join(early));
      assert.equal(earlyKeys.released, true);
      assert.equal(left.onDevice, false);
      const hostTwin = (await x.gpt.prefill(cond.data, cond.shape, ids[2] as number[])).cache;
      for (const kv of ['past_k', 'past_v'] as const) {
        const [l, h] = [left.feeds()[kv], hostTwin.feeds()[kv]];
        assert.deepEqual(l?.dims, h?.dims);
        assert.ok(maxAbsDiff(l?.data as Float32Array, h?.data as Float32Array) <= 1e-5, `${kv} as the host prefill's`);
      }
      // Never joined (a request that ended first), or joined and dropped before its write: released either way.
      const lone = await onDevice(1);
      const keys = lone.parts().past_v as DeviceTensor;
      lone.dispose();
      assert.equal(keys.released, true);
      const dropped = await onDevice(1);
      const values = dropped.parts().past_v as DeviceTensor;
      b.drop(b.join(dropped));
      assert.equal(values.released, true);
    } finally {
      await a.close();
      await b.close();
      pre.release();
    }
  });

  for (const [what, graph] of [
    ['the fused-operator step (gpt_step_static_fused_fp32)', fusedGraph],
    ['the in-place step (gpt_step_static_inplace_fp32: one cache input per layer, views of one buffer)', inplaceGraph],
    [
      'the DecoderMaskedMultiHeadAttention step (gpt_step_static_dmmha_fp32: host-memory bound, present outputs on the same views)',
      dmmhaGraph,
    ],
    [
      "the addon's own attention (gpt_step_static_xattn_fp32: ai.xtts DecodeAttention, each row read to its own length)",
      xattnGraph,
    ],
    [
      "the addon's own attention over an fp16 cache (gpt_step_static_xattn_kv16_fp32: fp32 prefills joined through a cast)",
      xattn16Graph,
    ],
  ] as const)
    it(`${what} gives the plain step's codes, latents within ${graph === xattn16Graph ? '1e-4' : '1e-5'}`, {
      skip: !existsSync(graph) && `no ${graph}`,
    }, async (t) => {
      const sizes = { slots: 3, maxLen: 160, chunk: 4 };
      const plain = StaticGpt.open(staticGraph, sizes, { threads: 1 });
      const fused = StaticGpt.open(graph, sizes, { threads: 1 });
      assert.equal(fused.dims.layered, graph !== fusedGraph);
      assert.equal(fused.dims.dmmha, graph === dmmhaGraph);
      assert.equal(fused.capacity, graph === dmmhaGraph ? sizes.maxLen - 1 : sizes.maxLen);
      // The dmmha step's bounds: multiples of BOUND_STEP columns, at least 1, below max_len.
      if (graph === dmmhaGraph)
        assert.deepEqual(
          [0, 1, BOUND_STEP, BOUND_STEP + 1, 10_000].map((n) => fused.bound(n)),
          [1, BOUND_STEP, BOUND_STEP, 2 * BOUND_STEP, sizes.maxLen - 1],
        );
      try {
        type Seq = { k: number; plain: number; fused: number };
        const join = async (k: number): Promise<Seq> => {
          const [a, b] = await Promise.all([
            x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
            x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
          ]);
          return { k, plain: plain.join(a.cache), fused: fused.join(b.cache) };
        };
        const rng = [0, 1, 2, 3].map((k) => new UniformSource(300 + k));
        let live = await Promise.all([0, 1, 2].map(join));
        let worst = 0;
        let codes = 0;
        // Rounds of 6 codes (two chunks, the second part of one); before the third, sequence 1 leaves and 3 joins.
        for (let round = 0; round < 4; round++) {
          if (round === 2) {
            const leaving = live[1] as Seq;
            plain.drop(leaving.plain);
            fused.drop(leaving.fused);
            live = [live[0] as Seq, live[2] as Seq, await join(3)];
          }
          const req = (s: Seq, id: number) => ({
            id,
            uniforms: (rng[s.k] as UniformSource).peek(6),
            settings: SETTINGS[s.k] as DecodeSettings,
          });
          const want = await plain.decode(live.map((s) => req(s, s.plain)));
          const got = await fused.decode(live.map((s) => req(s, s.fused)));
          for (const s of live) {
            const w = want.get(s.plain) as DecodeResult;
            const g = got.get(s.fused) as DecodeResult;
            assert.ok(w.codes.length > 0);
            assert.deepEqual(g.codes, w.codes, `round ${round}, sequence ${s.k}: codes`);
            const err = maxAbsDiff(g.latents, w.latents);
            // An fp16 cache rounds keys and values to 11 significant bits (relative 4.9e-4).
            const tol = graph === xattn16Graph ? 1e-4 : 1e-5; // fp16: 7.3e-6 measured here
            assert.ok(err <= tol, `round ${round}, sequence ${s.k}: latents max abs error ${err}`);
            worst = Math.max(worst, err);
            codes += g.codes.length;
            assert.equal(fused.length(s.fused), plain.length(s.plain));
            (rng[s.k] as UniformSource).advance(g.codes.length);
          }
        }
        t.diagnostic(`${codes} codes the same, latents max abs error ${worst}`);
      } finally {
        await plain.close();
        await fused.close();
      }
    });

  it('an fp16-cache step takes fp32 prefills and gives a leaving sequence back as an fp32 cache, within fp16 rounding of the fp32 step', {
    skip: !existsSync(xattn16Graph) && `no ${xattn16Graph}`,
  }, async () => {
    const sizes = { slots: 2, maxLen: 160, chunk: 4 };
    const wide = StaticGpt.open(xattnGraph, sizes, { threads: 1 });
    const half = StaticGpt.open(xattn16Graph, sizes, { threads: 1 });
    try {
      assert.equal(half.dims.kvType, 'float16');
      const [a, b] = await Promise.all([
        x.gpt.prefill(cond.data, cond.shape, ids[0] as number[]),
        x.gpt.prefill(cond.data, cond.shape, ids[0] as number[]),
      ]);
      assert.equal(b.cache.parts().past_k.type, 'float32');
      const [ia, ib] = [wide.join(a.cache), half.join(b.cache)];
      const req = (id: number) => ({
        id,
        uniforms: new UniformSource(9).peek(6),
        settings: SETTINGS[0] as DecodeSettings,
      });
      const [ra, rb] = [await wide.decode([req(ia)]), await half.decode([req(ib)])];
      assert.deepEqual(rb.get(ib)?.codes, ra.get(ia)?.codes);
      const [ca, cb] = [(await wide.leave(ia)).parts(), (await half.leave(ib)).parts()];
      for (const kv of ['past_k', 'past_v'] as const) {
        assert.equal(cb[kv].type, 'float32', `${kv} given back as fp32`);
        assert.deepEqual(cb[kv].dims, ca[kv].dims);
        const w = (ca[kv] as { data: Float32Array }).data;
        const g = (cb[kv] as { data: Float32Array }).data;
        let worst = 0;
        for (let i = 0; i < w.length; i++)
          worst = Math.max(
            worst,
            Math.abs((g[i] as number) - (w[i] as number)) / Math.max(Math.abs(w[i] as number), 2 ** -14),
          );
        // fp16 keeps 11 significant bits: a relative error of at most 2^-11 (plus the steps' own differences).
        assert.ok(worst <= 2 ** -10, `${kv}: relative error ${worst}`);
      }
    } finally {
      await wide.close();
      await half.close();
    }
  });

  it('writes a sequence whose keys and values lie on the device into its slot by copies, as the write graph does', async () => {
    for (const graph of [staticGraph, xattnGraph]) {
      const sizes = { slots: 3, maxLen: 160, chunk: 4 };
      const copying = StaticGpt.open(graph, sizes, { threads: 1 });
      const writing = StaticGpt.open(graph, sizes, { threads: 1, joinByCopy: false });
      try {
        // A prefill's keys and values moved into each driver's device memory, as a prefill through the addon leaves them.
        const prefilled = async (g: StaticGpt, k: number) => {
          const { cache } = await x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]);
          assert.ok(!cache.onDevice);
          const moved = cacheOnDevice(g.session, cache);
          assert.ok(moved.onDevice);
          return moved;
        };
        const both = async (k: number) => [
          copying.join(await prefilled(copying, k)),
          writing.join(await prefilled(writing, k)),
        ];
        const members = [await both(0), await both(1), await both(2)];
        const round = async (live: number[][], seed: number) => {
          const req = (id: number, i: number) => ({
            id,
            uniforms: new UniformSource(seed + i).peek(6),
            settings: SETTINGS[i % SETTINGS.length] as DecodeSettings,
          });
          const a = await copying.decode(live.map((m, i) => req(m[0] as number, i)));
          const b = await writing.decode(live.map((m, i) => req(m[1] as number, i)));
          for (const m of live) {
            const [ra, rb] = [a.get(m[0] as number) as DecodeResult, b.get(m[1] as number) as DecodeResult];
            assert.ok(ra.codes.length > 0);
            assert.deepEqual(ra.codes, rb.codes, `${basename(graph)}: codes`);
            assert.deepEqual(ra.latents, rb.latents, `${basename(graph)}: latents, to the bit`);
          }
        };
        await round(members, 40);
        // The middle one leaves (its slot's keys and values read back the same), another joins its slot.
        const mid = members[1] as number[];
        const [la, lb] = [
          (await copying.leave(mid[0] as number)).parts(),
          (await writing.leave(mid[1] as number)).parts(),
        ];
        for (const kv of ['past_k', 'past_v'] as const)
          assert.deepEqual((la[kv] as { data: Float32Array }).data, (lb[kv] as { data: Float32Array }).data, kv);
        const again = await both(3);
        assert.equal(copying.slotOf(again[0] as number), 1);
        await round([members[0] as number[], again, members[2] as number[]], 50);
        assert.deepEqual(copying.joins, { copied: 4, graph: 0 }, `${basename(graph)}: every join by copies`);
        assert.deepEqual(writing.joins, { copied: 0, graph: 4 });
      } finally {
        await copying.close();
        await writing.close();
      }
    }
  });

  it('sized by staticSizes, the step holds the longest prompt under a text cap and every code after it', async () => {
    const m = x.pkg.manifest;
    const cap = 20;
    const sizes = staticSizes(m, { slots: 1, chunk: 5 }, cap);
    const g = StaticGpt.open(staticGraph, sizes, { threads: 1 });
    try {
      // [START], cap - 1 text tokens (the most a piece may hold), [STOP].
      const longest = [m.tokens.text_start, ...Array.from({ length: cap - 1 }, (_, i) => 10 + i), m.tokens.text_stop];
      const { cache } = await x.gpt.prefill(cond.data, cond.shape, longest);
      const id = g.join(cache);
      const r = await g.decode([
        { id, uniforms: new UniformSource(5).peek(m.tokens.max_audio_codes), settings: SETTINGS[2] as DecodeSettings },
      ]);
      assert.ok((r.get(id)?.codes.length ?? 0) > 0);
    } finally {
      await g.close();
    }
  });

  it('under a code cap, the step holds the longest prompt and that many codes, and the cap ends the sequence', async () => {
    const m = x.pkg.manifest;
    const codes = 12;
    const sizes = staticSizes(m, { slots: 1, chunk: 5 }, 20, codes);
    assert.equal(sizes.maxLen, staticSizes(m, { slots: 1, chunk: 5 }, 20).maxLen - (m.tokens.max_audio_codes - codes));
    const g = StaticGpt.open(staticGraph, sizes, { threads: 1 });
    try {
      const longest = [m.tokens.text_start, ...Array.from({ length: 19 }, (_, i) => 10 + i), m.tokens.text_stop];
      const { cache } = await x.gpt.prefill(cond.data, cond.shape, longest);
      const id = g.join(cache);
      const r = await g.decode([
        { id, uniforms: new UniformSource(5).peek(codes), settings: SETTINGS[2] as DecodeSettings },
      ]);
      assert.ok((r.get(id)?.codes.length ?? 0) > 0);
      assert.ok((r.get(id)?.codes.length ?? 0) <= codes);
      // One code more than the cap would pass the slot: refused, not written past it.
      const again = await x.gpt.prefill(cond.data, cond.shape, longest);
      const other = StaticGpt.open(staticGraph, sizes, { threads: 1 });
      try {
        const id2 = other.join(again.cache);
        await assert.rejects(
          other.decode([
            { id: id2, uniforms: new UniformSource(5).peek(g.capacity), settings: SETTINGS[2] as DecodeSettings },
          ]),
          (e: Error & { code?: string }) =>
            e.code === 'ERR_STATIC_TOO_LONG' && /do not fit the static step/.test(e.message),
        );
      } finally {
        await other.close();
      }
    } finally {
      await g.close();
    }
  });

  it('a package with the steps opens the in-place one through the addon, else the fused, else the plain one', {
    skip: !existsSync(fusedGraph) && `no ${fusedGraph}`,
  }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'xtts-static-'));
    try {
      const pkg = join(tmp, 'package');
      cpSync(join(fixture, 'package'), pkg, { recursive: true });
      const opened = async (options: PackageOptions) => {
        const p = await loadPackage(pkg, { batchedDecode: true, staticDecode: { slots: 2, chunk: 3 }, ...options });
        try {
          return basename(p.sessions.batch?.path ?? '');
        } finally {
          await p.release();
        }
      };
      await addTinyBatchGraph(pkg, 'gpt_batch_fp32');
      await addTinyBatchGraph(pkg, 'gpt_step_static_fp32');
      assert.equal(await opened({ nativeBatch: true }), 'gpt_step_static_fp32.onnx');
      await addTinyBatchGraph(pkg, 'gpt_step_static_fused_fp32');
      assert.equal(await opened({ nativeBatch: true }), 'gpt_step_static_fused_fp32.onnx');
      await addTinyBatchGraph(pkg, 'gpt_step_static_inplace_fp32');
      assert.equal(await opened({ nativeBatch: true }), 'gpt_step_static_inplace_fp32.onnx');
      // The fixture's dmmha step has the CPU kernel's K layout: taken on the CPU (a CUDA export's is not).
      await addTinyBatchGraph(pkg, 'gpt_step_static_dmmha_fp32');
      assert.equal(await opened({ nativeBatch: true }), 'gpt_step_static_dmmha_fp32.onnx');
      // The steps on the addon's own attention: on the CPU only when asked for (dmmha stays the default here).
      await addTinyBatchGraph(pkg, 'gpt_step_static_xattn_fp32');
      assert.equal(await opened({ nativeBatch: true }), 'gpt_step_static_dmmha_fp32.onnx');
      assert.equal(await opened({ nativeBatch: true, staticStep: 'xattn' }), 'gpt_step_static_xattn_fp32.onnx');
      assert.equal(
        await opened({ nativeBatch: true, staticStep: 'xattn16' }),
        'gpt_step_static_xattn_fp32.onnx',
        'no fp16-cache step in the package: the fp32 one',
      );
      await addTinyBatchGraph(pkg, 'gpt_step_static_xattn_kv16_fp32');
      assert.equal(await opened({ nativeBatch: true, staticStep: 'xattn16' }), 'gpt_step_static_xattn_kv16_fp32.onnx');
      assert.equal(await opened({ nativeBatch: true, staticStep: 'inplace' }), 'gpt_step_static_inplace_fp32.onnx');
      assert.equal(await opened({}), 'gpt_batch_fp32.onnx', 'onnxruntime-node: the batched Loop graph');
      // With the step every decode goes through it: the batch-1 decode graph opens on its first run only.
      const before = openSessionCount();
      const p = await loadPackage(pkg, {
        batchedDecode: true,
        nativeBatch: true,
        staticDecode: { slots: 2, chunk: 3 },
      });
      try {
        const atLoad = openSessionCount() - before;
        assert.deepEqual(
          p.sessions.decode.inputs.map((i) => i.name),
          p.manifest.graphs.gpt_decode_fp32?.inputs.map((i: { name: string }) => i.name),
          "the unopened decode graph's inputs, from the manifest",
        );
        const t = p.manifest.tokens;
        const gpt = new Gpt(p.sessions.prefill, p.sessions.decode, {
          audioStart: t.audio_start,
          audioStop: t.audio_stop,
          vocab: p.manifest.model.config.gpt_num_audio_tokens,
        });
        const { cache } = await gpt.prefill(cond.data, cond.shape, ids[0] as number[]);
        assert.equal(openSessionCount() - before, atLoad, 'prefill opens nothing more');
        const r = await gpt.decode(cache, new Float32Array(3).fill(0.5), SETTINGS[1] as DecodeSettings);
        assert.equal(r.codes.length, 3);
        assert.equal(openSessionCount() - before, atLoad + 1, 'the decode graph opened on its first run');
      } finally {
        await p.release();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
