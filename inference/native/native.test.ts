/**
 * The native addon (ort_device.node) on this host's CPU: it builds; tensors go in and out exactly
 * (also through the copy-by-graph path that CUDA uses); the tiny fixture's batched decode graph run
 * through it with the state left on the device and fed back run after run gives exactly the codes
 * and latents of onnxruntime-node's path (xtts/batch.ts) from the same prompts and uniforms; bad
 * input gets a clear error with a stable code.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { TINY_SETTINGS, tinySentenceIds } from '../../test/helpers/tiny.ts';
import { openSession, type Session, type Tensor, tensor } from '../runtime/index.ts';
import { BatchedGpt, type BatchRequest, batchDims, packPlaces } from '../xtts/batch.ts';
import { UniformSource } from '../xtts/generate.ts';
import type { DecodeResult, DecodeSettings, DecodeState } from '../xtts/gpt.ts';
import { tinyCondLatent } from '../xtts/tiny-graphs.ts';
import { Xtts } from '../xtts/xtts.ts';
import { DeviceBatchedGpt } from './batch.ts';
import {
  copyBlocks,
  DeviceSession,
  type DeviceTensor,
  NATIVE_ADDON,
  nativeAvailable,
  nativeCopyPath,
  nativeMemory,
} from './index.ts';
import { constant, int64Proto, model, node, tensorProto } from './onnx-build.ts';

const root = join(import.meta.dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'tiny');
const graphPath = (name: string) => join(fixture, 'batch', `${name}.onnx`);
const cond = tinyCondLatent();

const cxx = process.env.CXX ?? 'g++';
const noCompiler = spawnSync(cxx, ['--version']).error ? `no C++ compiler (${cxx}) on PATH` : false;

function build(): string {
  return execFileSync('bash', [join(import.meta.dirname, 'build.sh')], { encoding: 'utf8', timeout: 180_000 });
}

/** Expects `f` (sync or async) to fail with `code` and a message matching `msg`. */
async function fails(f: () => unknown, code: string, msg: RegExp): Promise<void> {
  await assert.rejects(
    async () => f(),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code, `code of: ${e.message}`);
      assert.match(e.message, msg);
      return true;
    },
  );
}

describe('native addon (ort_device.node) on CPU', { skip: noCompiler }, () => {
  before(() => {
    build();
  });

  it('builds, loads the same onnxruntime as onnxruntime-node, and a second build is a no-op', () => {
    const state = nativeAvailable();
    assert.ok(state.ok, state.ok ? '' : state.reason);
    const pkg = JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(state.ortVersion, pkg.version);
    const t = performance.now();
    assert.match(build(), /up to date/);
    assert.ok(performance.now() - t < 5000, 'an up-to-date build returns at once');
    assert.ok(NATIVE_ADDON.endsWith(join('build', 'ort_device.node')));
    // On a CPU nothing crosses to a CUDA device: the runtime copy is never tried (on CUDA it says which
    // path the copies took: the bench and INFERENCE_PROFILE print it).
    assert.equal(nativeCopyPath(), 'unchecked');
  });

  it("memoryStats and nativeMemory: what a session's arena holds, by label, while it is open", async () => {
    const hifigan = join(fixture, 'package', 'hifigan.onnx');
    const withArena = DeviceSession.open(hifigan, { threads: 1, cpuMemArena: true, label: 'vocoder (16)' });
    const without = DeviceSession.open(hifigan, { threads: 1, cpuMemArena: false });
    try {
      const feeds = {
        latents: { type: 'float32' as const, dims: [1, 16, 32], data: new Float32Array(16 * 32).fill(0.1) },
        speaker: { type: 'float32' as const, dims: [1, 16, 1], data: new Float32Array(16).fill(0.25) },
        frames: { type: 'int64' as const, dims: [], data: BigInt64Array.of(16n) },
      };
      const before = withArena.memoryStats();
      await withArena.run(feeds, { wav: 'cpu' });
      const after = withArena.memoryStats();
      assert.ok((after.TotalAllocated ?? 0) > 0, JSON.stringify(after));
      assert.ok(
        (after.MaxInUse ?? 0) >= (before.MaxInUse ?? 0) && (after.MaxInUse ?? 0) <= (after.TotalAllocated ?? 0),
      );
      assert.ok((after.NumAllocs ?? 0) > (before.NumAllocs ?? 0), 'the run allocated from the arena');
      assert.deepEqual(without.memoryStats(), {}, 'no arena: nothing kept');
      const listed = nativeMemory();
      assert.deepEqual(
        listed.filter((m) => m.label === 'vocoder (16)').map((m) => m.stats.TotalAllocated),
        [after.TotalAllocated],
      );
      assert.ok(
        listed.some((m) => m.label === 'hifigan.onnx'),
        'unlabelled: the file name',
      );
    } finally {
      withArena.release();
      without.release();
    }
    assert.ok(!nativeMemory().some((m) => m.label === 'vocoder (16)'), 'a released session is not listed');
    assert.throws(() => withArena.memoryStats(), { code: 'ERR_NATIVE_RELEASED' });
  });

  it("profile and endProfiling: onnxruntime's trace of the session's runs, each node's time in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native-profile-'));
    const s = DeviceSession.open(join(fixture, 'package', 'gpt_prefill_fp32.onnx'), {
      threads: 1,
      profile: join(dir, 'prefill'),
    });
    try {
      const feeds = {
        cond: { type: 'float32', dims: [1, 32, 32], data: new Float32Array(32 * 32).fill(0.5) },
        text_ids: { type: 'int64', dims: [1, 4], data: BigInt64Array.of(115n, 7n, 9n, 0n) },
      };
      for (let i = 0; i < 2; i++) await s.run(feeds, { logits: 'cpu' });
      const path = s.endProfiling();
      assert.ok(path.startsWith(join(dir, 'prefill')), path);
      const events = JSON.parse(readFileSync(path, 'utf8')) as { cat: string; name: string; dur: number }[];
      assert.equal(events.filter((ev) => ev.cat === 'Session' && ev.name === 'model_run').length, 2, 'both runs');
      const nodes = events.filter((ev) => ev.cat === 'Node' && ev.name.endsWith('_kernel_time'));
      assert.ok(
        nodes.some((ev) => ev.name.includes('MatMul')),
        'the nodes that ran, by name',
      );
      assert.ok(nodes.every((ev) => ev.dur >= 0));
    } finally {
      s.release();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(
      () => DeviceSession.open(join(fixture, 'package', 'hifigan.onnx'), { profile: '' }),
      /options\.profile/,
    );
  });

  for (const copyWithGraph of [false, true])
    it(`tensors: alloc, upload and download keep every value${copyWithGraph ? ' (copies through a graph run, as on CUDA)' : ''}`, () => {
      const s = DeviceSession.open(graphPath('gpt_batch_fp32'), { copyWithGraph, threads: 1 });
      try {
        const f32 = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 1e3);
        const t = s.alloc('float32', [2, 3, 4], f32);
        assert.equal(t.type, 'float32');
        assert.deepEqual(t.dims, [2, 3, 4]);
        assert.equal(t.device, 'cpu');
        assert.deepEqual(t.download(), f32);
        const again = f32.map((v) => -v);
        t.upload(again);
        const into = new Float32Array(24);
        assert.equal(t.download(into), into);
        assert.deepEqual(into, again);
        const zeros = s.alloc('int64', [5]);
        assert.deepEqual(zeros.download(), new BigInt64Array(5));
        const big = BigInt64Array.from([-(2n ** 62n), -1n, 0n, 1n, 2n ** 62n]);
        zeros.upload(big);
        assert.deepEqual(zeros.download(), big);
        const half = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]);
        assert.deepEqual(s.alloc('float16', [4], half).download(), half);
        const b = Uint8Array.from([1, 0, 0, 1, 1]);
        assert.deepEqual(s.alloc('bool', [5], b).download(), b);
        assert.deepEqual(s.alloc('float32', [0, 3]).download(), new Float32Array(0));
        // The tensor holds a copy: changing the array it was made from changes nothing.
        const src = Float32Array.from([1, 2, 3]);
        const copy = s.alloc('float32', [3], src);
        src[0] = 99;
        assert.deepEqual(copy.download(), Float32Array.from([1, 2, 3]));
        t.release();
        assert.equal(t.released, true);
      } finally {
        s.release();
      }
    });

  it('copyBlocks: rows of device tensors and host arrays into device tensors, every item checked first', () => {
    const s = DeviceSession.open(graphPath('gpt_batch_fp32'), { threads: 1 });
    try {
      // A [L=2, S=3, H=2, M=4, d=2] cache and a sequence's [L, H, P=3, d] keys: its rows go to slot 1.
      const cache = s.alloc('float32', [2, 3, 2, 4, 2]);
      const seq = Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i + 1);
      const keys = s.alloc('float32', [2, 2, 3, 2], seq);
      const blocks = new Float64Array(
        [0, 1].flatMap((l) => [(l * 3 + 1) * 2 * 4 * 2, 4 * 2, l * 2 * 3 * 2, 3 * 2, 3 * 2, 2]),
      );
      const row = s.alloc('int64', [3]);
      assert.equal(
        copyBlocks([
          [cache, keys, blocks],
          [row, BigInt64Array.of(7n), Float64Array.of(2, 1, 0, 1, 1, 1)],
        ]),
        true,
      );
      // What the copy must give, element by element.
      const want = new Float32Array(2 * 3 * 2 * 4 * 2);
      for (let l = 0; l < 2; l++)
        for (let h = 0; h < 2; h++)
          for (let p = 0; p < 3; p++)
            for (let d = 0; d < 2; d++)
              want[(((l * 3 + 1) * 2 + h) * 4 + p) * 2 + d] = seq[((l * 2 + h) * 3 + p) * 2 + d] as number;
      assert.deepEqual(cache.download(), want);
      assert.deepEqual(row.download(), BigInt64Array.of(0n, 0n, 7n));

      const before = cache.download();
      const bad = (items: unknown, message: RegExp) =>
        assert.throws(() => copyBlocks(items as never), { code: 'ERR_NATIVE_ARGUMENT', message });
      bad('x', /items must be an array of \[dst, src, blocks\]/);
      bad([[cache, keys]], /item 0 must be \[dst, src, blocks\]/);
      bad([[cache, keys, Float64Array.of(0, 1, 0, 1, 1)]], /item 0: blocks must be a Float64Array of sextuples/);
      bad(
        [[cache, keys, Float64Array.of(0.5, 1, 0, 1, 1, 1)]],
        /item 0, block 0's dstOffset must be a non-negative integer, got 0\.5/,
      );
      bad([[cache, keys, Float64Array.of(0, 1, 0, 2, 2, 2)]], /item 0, block 0: a pitch is below the width/);
      bad(
        [[cache, keys, Float64Array.of(95, 1, 0, 1, 2, 1)]],
        /item 0, block 0 in dst: 2 elements at offset 95 run past the 96/,
      );
      bad(
        [[cache, keys, Float64Array.of(0, 1, 23, 1, 2, 1)]],
        /item 0, block 0 in src: 2 elements at offset 23 run past the 24/,
      );
      bad([[cache, row, Float64Array.of(0, 1, 0, 1, 1, 1)]], /item 0: src is int64, dst float32/);
      bad(
        [[row, Float32Array.of(1), Float64Array.of(0, 1, 0, 1, 1, 1)]],
        /item 0: src's typed array does not hold int64/,
      );
      bad([[Float32Array.of(1), keys, blocks]], /item 0: dst must be a device tensor/);
      // A bad second item: nothing is copied, the first item's rows neither.
      bad(
        [
          [cache, new Float32Array(96).fill(5), Float64Array.of(0, 1, 0, 1, 96, 1)],
          [row, BigInt64Array.of(1n), Float64Array.of(3, 1, 0, 1, 1, 1)],
        ],
        /item 1, block 0 in dst: 1 elements at offset 3 run past the 3/,
      );
      assert.deepEqual(cache.download(), before);
      keys.release();
      assert.throws(() => copyBlocks([[cache, keys, blocks]]), { code: 'ERR_NATIVE_RELEASED' });
    } finally {
      s.release();
    }
  });

  describe('in-place bindings, fixed dimensions, partial copies', () => {
    /**
     * A step in the shape of the fixed-shape decode step (gpt_step_static): state inputs X and outputs
     * X_out meant to be bound to the same tensor. Row s writes `acc` (before the step) to column `iter`
     * of `hist` (ScatterND into its own buffer), then acc = hist[s, iter] / 2 + x[s, iter] (read back
     * from what it wrote, so acc's in-place write comes after every read of acc), and iter += 1
     * (computed from the one read of iter). Symbolic dims `slots` and `chunk`.
     */
    const stepGraph = () => {
      const i64 = (v: number[], dims = [v.length]) => int64Proto(v, dims);
      const f32 = (v: number) => tensorProto('float32', [], new Uint8Array(new Float32Array([v]).buffer));
      return model(
        'step',
        [
          constant('zero', i64([0], [])),
          constant('one', i64([1], [])),
          constant('zero_v', i64([0])),
          constant('one_v', i64([1])),
          constant('half', f32(0.5)),
          node('Shape', ['acc'], ['shape']),
          node('Gather', ['shape', 'zero'], ['slots']),
          node('Gather', ['shape', 'zero_v'], ['slots_v']),
          node('Concat', ['slots_v', 'one_v'], ['col_shape'], [{ name: 'axis', i: 0 }]),
          node('Expand', ['iter', 'col_shape'], ['iter_col']),
          node('Range', ['zero', 'slots', 'one'], ['rows']),
          node('Unsqueeze', ['rows', 'one_v'], ['rows_col']),
          node('Concat', ['rows_col', 'iter_col'], ['idx'], [{ name: 'axis', i: 1 }]),
          node('ScatterND', ['hist', 'idx', 'acc'], ['hist_out']),
          node('GatherElements', ['x', 'iter_col'], ['u'], [{ name: 'axis', i: 1 }]),
          node('GatherND', ['hist_out', 'idx'], ['back']),
          node('Mul', ['back', 'half'], ['halved']),
          node('Add', ['halved', 'u'], ['acc_out']),
          node('Gather', ['iter_col', 'zero_v'], ['iter_first']),
          node('Reshape', ['iter_first', 'one_v'], ['iter_r']),
          node('Add', ['iter_r', 'one_v'], ['iter_out']),
        ],
        [
          ['acc', 'float32', ['slots', 4]],
          ['hist', 'float32', ['slots', 'chunk', 4]],
          ['iter', 'int64', [1]],
          ['x', 'float32', ['slots', 'chunk']],
        ],
        [
          ['acc_out', 'float32', ['slots', 4]],
          ['hist_out', 'float32', ['slots', 'chunk', 4]],
          ['iter_out', 'int64', [1]],
        ],
      );
    };
    const S = 3;
    const N = 5;
    const acc0 = Float32Array.from({ length: S * 4 }, (_, i) => Math.sin(i + 1));
    const xs = Float32Array.from({ length: S * N }, (_, i) => Math.cos(i) * 3);

    it("an output bound to its input's tensor is updated in place, run after run, as a run without aliasing gives", async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'ort-step-'));
      const file = join(dir, 'step.onnx');
      writeFileSync(file, stepGraph());
      const host = await openSession(file);
      const s = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N }, name: 'step graph' });
      try {
        // The reference: onnxruntime-node, each output a new host tensor fed to the next run.
        let want: Record<string, Tensor> = {
          acc: tensor('float32', acc0, [S, 4]),
          hist: tensor('float32', new Float32Array(S * N * 4), [S, N, 4]),
          iter: tensor('int64', [0], [1]),
        };
        const x = tensor('float32', xs, [S, N]);
        for (let i = 0; i < N; i++) {
          const out = await host.run({ ...want, x });
          want = { acc: out.acc_out as Tensor, hist: out.hist_out as Tensor, iter: out.iter_out as Tensor };
        }
        const acc = s.alloc('float32', [S, 4], acc0);
        const hist = s.alloc('float32', [S, N, 4]);
        const iter = s.alloc('int64', [1]);
        const xd = s.alloc('float32', [S, N], xs);
        const at = [acc.address, hist.address, iter.address];
        const b = s.bind({ acc, hist, iter, x: xd }, { acc_out: acc, hist_out: hist, iter_out: iter });
        assert.equal(b.graphId, -1, 'no CUDA graph on CPU');
        // Two runs, then three in one call: five steps back to back on the same buffers.
        await b.run(2);
        await b.run(3);
        assert.deepEqual([acc.address, hist.address, iter.address], at, 'the buffers stayed where they were');
        assert.deepEqual(iter.download(), BigInt64Array.from([BigInt(N)]));
        assert.deepEqual(acc.download(), want.acc?.data, 'acc: bit for bit');
        assert.deepEqual(hist.download(), want.hist?.data, 'hist: every column written in place');
        assert.ok(
          (hist.download() as Float32Array).every((v) => v !== 0),
          'every column was written',
        );
        // The same step without aliasing (outputs to host memory) from the same state: the same values.
        iter.upload(BigInt64Array.from([2n]));
        const alone = await s.run({ acc, hist, iter, x: xd }, { acc_out: 'cpu', hist_out: 'cpu', iter_out: 'cpu' });
        await b.run();
        assert.deepEqual(acc.download(), alone.acc_out.data);
        assert.deepEqual(hist.download(), alone.hist_out.data);
        assert.deepEqual(iter.download(), BigInt64Array.from([3n]));
        // A run in flight holds its tensors: no host copies, no second run of the binding.
        iter.upload(BigInt64Array.from([0n]));
        const running = b.run(N);
        assert.equal(b.running, true);
        await fails(() => acc.download(), 'ERR_NATIVE_BUSY', /download\(\): the tensor is in use by a run in progress/);
        await fails(() => iter.upload(new BigInt64Array(1)), 'ERR_NATIVE_BUSY', /in use by a run in progress/);
        await fails(() => b.run(), 'ERR_NATIVE_BUSY', /step graph: the binding is running already/);
        await running;
        assert.equal(b.running, false);
        assert.deepEqual(iter.download(), BigInt64Array.from([BigInt(N)]));
        await b.run(0);
        assert.deepEqual(iter.download(), BigInt64Array.from([BigInt(N)]), 'run(0) runs nothing');
        // A step that fails (column N is past the chunk) rejects with onnxruntime's error; the binding still runs.
        await assert.rejects(b.run(), (e: Error & { code?: string }) => {
          assert.match(e.code ?? '', /^ERR_ORT_/);
          assert.match(e.message, /step graph: run failed: .*invalid indice/);
          return true;
        });
        iter.upload(BigInt64Array.from([0n]));
        await b.run();
        assert.deepEqual(iter.download(), BigInt64Array.from([1n]));
        b.release();
        await fails(() => b.run(), 'ERR_NATIVE_RELEASED', /binding used after release\(\)/);
        t.diagnostic(`in place: acc ${acc.address.toString(16)}, hist ${hist.address.toString(16)}`);
        for (const x of [acc, hist, iter, xd]) x.release();
      } finally {
        s.release();
        await host.release();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a binding takes a host tensor (allocHost) as an input, reading what was last uploaded; never as an output', async () => {
      const s = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N } });
      try {
        const acc = s.alloc('float32', [S, 4], acc0);
        const hist = s.alloc('float32', [S, N, 4]);
        const iter = s.alloc('int64', [1]);
        const x = s.allocHost('float32', [S, N], xs);
        assert.equal(x.device, 'cpu');
        const b = s.bind({ acc, hist, iter, x }, { acc_out: acc, hist_out: hist, iter_out: iter });
        await b.run();
        const want = Float32Array.from(acc0, (a, i) =>
          Math.fround(Math.fround(a * 0.5) + (xs[Math.floor(i / 4) * N] as number)),
        );
        assert.deepEqual(acc.download(), want);
        // A new value between runs: the next run reads it (column iter = 1 of the new x).
        const xs2 = Float32Array.from(xs, (v) => v + 10);
        x.upload(xs2);
        await b.run();
        assert.deepEqual(
          acc.download(),
          Float32Array.from(want, (a, i) =>
            Math.fround(Math.fround(a * 0.5) + (xs2[Math.floor(i / 4) * N + 1] as number)),
          ),
        );
        b.release();
        const hostAcc = s.allocHost('float32', [S, 4]);
        await fails(
          () => s.bind({ acc, hist, iter, x }, { acc_out: hostAcc }),
          'ERR_NATIVE_ARGUMENT',
          /output 'acc_out': not a tensor in this session's device memory/,
        );
        for (const t of [acc, hist, iter, x, hostAcc]) t.release();
      } finally {
        s.release();
      }
    });

    it('streamPriority: normal is the default stream; high is refused off CUDA, a bad value refused', async () => {
      const s = DeviceSession.open(stepGraph(), { threads: 1, streamPriority: 'normal' });
      s.release();
      await fails(
        () => DeviceSession.open(stepGraph(), { threads: 1, streamPriority: 'high' }),
        'ERR_NATIVE_ARGUMENT',
        /options\.streamPriority needs options\.device 'cuda'/,
      );
      await fails(
        () => DeviceSession.open(stepGraph(), { threads: 1, streamPriority: 'urgent' as never }),
        'ERR_NATIVE_ARGUMENT',
        /options\.streamPriority must be 'high' or 'normal', got 'urgent'/,
      );
    });

    it('sharedArena: refused off CUDA; false is the default', () => {
      const s = DeviceSession.open(stepGraph(), { threads: 1, sharedArena: false });
      s.release();
      assert.throws(
        () => DeviceSession.open(stepGraph(), { threads: 1, sharedArena: true }),
        /options\.sharedArena needs options\.device 'cuda'/,
      );
    });

    it('smCount: refused off CUDA, with stream settings of its own, and when not a positive integer; none: sms is null', async () => {
      const s = DeviceSession.open(stepGraph(), { threads: 1 });
      assert.equal(s.sms, null);
      s.release();
      await fails(
        () => DeviceSession.open(stepGraph(), { threads: 1, smCount: 16 }),
        'ERR_NATIVE_ARGUMENT',
        /options\.smCount needs options\.device 'cuda'/,
      );
      await fails(
        () => DeviceSession.open(stepGraph(), { threads: 1, smCount: 16, streamPriority: 'high' }),
        'ERR_NATIVE_ARGUMENT',
        /options\.streamPriority needs options\.device 'cuda'|cannot be combined/,
      );
      for (const bad of [0, 2.5, -4])
        await fails(
          () => DeviceSession.open(stepGraph(), { threads: 1, smCount: bad }),
          'ERR_NATIVE_ARGUMENT',
          /options\.smCount must be a positive integer/,
        );
    });

    it('dims fixes symbolic dimensions when the session opens: other sizes are refused, clearly', async () => {
      const free = DeviceSession.open(stepGraph(), { threads: 1 });
      assert.deepEqual(free.inputs.find((i) => i.name === 'hist')?.shape, ['slots', 'chunk', 4]);
      free.release();
      const s = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N } });
      try {
        assert.deepEqual(
          s.inputs.map((i) => i.shape),
          [[S, 4], [S, N, 4], [1], [S, N]],
        );
        const acc = s.alloc('float32', [S, 4]);
        const hist = s.alloc('float32', [S, N, 4]);
        const iter = s.alloc('int64', [1]);
        const x = s.alloc('float32', [S, N]);
        const wide = s.alloc('float32', [S, N + 1, 4]);
        const short = s.alloc('float32', [S - 1, 4]);
        await fails(
          () => s.bind({ acc: short, hist, iter, x }, { acc_out: short }),
          'ERR_NATIVE_ARGUMENT',
          /input 'acc' is float32 \[2, 4\], the graph wants float32 \[3, 4\] \(dims fixed at open: slots=3, chunk=5\)/,
        );
        await fails(
          () => s.bind({ acc, hist, iter, x }, { hist_out: wide }),
          'ERR_NATIVE_ARGUMENT',
          /output 'hist_out' is float32 \[3, 6, 4\], the graph wants float32 \[3, 5, 4\] \(dims fixed at open/,
        );
        await fails(
          () =>
            s.run(
              { acc, hist, iter, x: { type: 'float32', dims: [S, N + 1], data: new Float32Array(S * (N + 1)) } },
              { acc_out: 'cpu' },
            ),
          'ERR_NATIVE_ARGUMENT',
          /input 'x' is float32 \[3, 6\], the graph wants float32 \[3, 5\]/,
        );
        await fails(
          () => s.bind({ acc, hist, iter }, { acc_out: acc }),
          'ERR_NATIVE_ARGUMENT',
          /bind: missing input x \(float32 \[3, 5\]\)/,
        );
        await fails(
          () =>
            s.bind(
              { acc, hist, iter, x: { type: 'float32', dims: [S, N], data: new Float32Array(S * N) } as never },
              { acc_out: acc },
            ),
          'ERR_NATIVE_ARGUMENT',
          /input 'x' must be a DeviceTensor \(a binding takes no \{type, dims, data\} host inputs; allocHost makes a host tensor it takes\)/,
        );
        await fails(
          () => s.bind({ acc, hist, iter, x }, { acc_out: acc, hist_out: acc }),
          'ERR_NATIVE_ARGUMENT',
          /output 'hist_out' is float32 \[3, 4\]/,
        );
        await fails(
          () => s.bind({ acc, hist, iter, x }, { acc_out: hist, hist_out: hist }),
          'ERR_NATIVE_ARGUMENT',
          /output 'acc_out' is float32 \[3, 5, 4\]/,
        );
        const acc2 = s.alloc('float32', [S, 4]);
        await fails(
          () => s.bind({ acc, hist, iter, x }, { acc_out: acc2, iter_out: iter, nope: iter }),
          'ERR_NATIVE_ARGUMENT',
          /unknown output 'nope' \(the graph's outputs: acc_out, hist_out, iter_out\)/,
        );
        await fails(() => s.bind({ acc, hist, iter, x }, {}), 'ERR_NATIVE_ARGUMENT', /name at least one output/);
        const other = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N } });
        const twice = other.bind({ acc, hist, iter, x }, { acc_out: acc2, hist_out: hist });
        twice.release();
        other.release();
        await fails(
          () => DeviceSession.open(stepGraph(), { dims: { slots: 0 } }),
          'ERR_NATIVE_ARGUMENT',
          /options\.dims\.slots must be a positive integer, got 0/,
        );
        await fails(
          () => DeviceSession.open(stepGraph(), { dims: { slots: '3' as never } }),
          'ERR_NATIVE_ARGUMENT',
          /options\.dims\.slots must be a number/,
        );
        for (const t of [acc, hist, iter, x, wide, short, acc2]) t.release();
      } finally {
        s.release();
      }
    });

    it('ownThread runs every run and binding run of the session on one thread, with the same results', async (t) => {
      const one = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N }, ownThread: true });
      const pool = DeviceSession.open(stepGraph(), { threads: 1, dims: { slots: S, chunk: N } });
      try {
        assert.equal(one.runThreads, 0, 'no run yet');
        const results = async (s: DeviceSession) => {
          const acc = s.alloc('float32', [S, 4], acc0);
          const hist = s.alloc('float32', [S, N, 4]);
          const iter = s.alloc('int64', [1]);
          const x = s.alloc('float32', [S, N], xs);
          // Sixteen runs at once (libuv's pool takes them on its threads), then a binding's runs.
          const outs = await Promise.all(
            Array.from({ length: 16 }, () =>
              s.run({ acc, hist, iter, x }, { acc_out: 'cpu', hist_out: 'cpu', iter_out: 'cpu' }),
            ),
          );
          const b = s.bind({ acc, hist, iter, x }, { acc_out: acc, hist_out: hist, iter_out: iter });
          await b.run(2);
          await b.run(3);
          const r = { first: outs[0]?.acc_out.data, acc: acc.download(), hist: hist.download() };
          b.release();
          for (const u of [acc, hist, iter, x]) u.release();
          return r;
        };
        const [a, p] = [await results(one), await results(pool)];
        assert.equal(one.runThreads, 1, 'every run on its one thread');
        assert.deepEqual(a, p, 'the same values as runs on the pool');
        t.diagnostic(`the same runs on libuv's pool: ${pool.runThreads} thread(s)`);
      } finally {
        one.release();
        pool.release();
      }
    });

    for (const copyWithGraph of [false, true])
      it(`part of a tensor goes up and comes back (one row of a [S, ...] tensor)${copyWithGraph ? ', through graph runs as on CUDA' : ''}`, async () => {
        const s = DeviceSession.open(stepGraph(), { threads: 1, copyWithGraph });
        try {
          const t = s.alloc('float32', [S, N], xs);
          const row = Float32Array.from({ length: N }, (_, i) => 100 + i);
          t.upload(row, { offset: N });
          const want = Float32Array.from(xs);
          want.set(row, N);
          assert.deepEqual(t.download(), want);
          assert.deepEqual(t.download({ offset: N, length: N }), row);
          assert.deepEqual(t.download({ offset: 2 * N }), want.subarray(2 * N));
          assert.deepEqual(t.download({ offset: S * N }), new Float32Array(0));
          const into = new Float32Array(3);
          assert.equal(t.download(into, { offset: N + 1 }), into);
          assert.deepEqual(into, want.subarray(N + 1, N + 4));
          const flags = s.alloc('bool', [S], Uint8Array.from([0, 0, 0]));
          flags.upload(Uint8Array.from([1]), { offset: 1 });
          assert.deepEqual(flags.download(), Uint8Array.from([0, 1, 0]));
          const pos = s.alloc('int64', [S], BigInt64Array.from([5n, 6n, 7n]));
          pos.upload(BigInt64Array.from([-9n]), { offset: 2 });
          assert.deepEqual(pos.download({ offset: 1, length: 2 }), BigInt64Array.from([6n, -9n]));
          await fails(
            () => t.upload(row, { offset: 2 * N + 1 }),
            'ERR_NATIVE_ARGUMENT',
            /upload\(data, \{offset\}\): 5 elements at offset 11 run past the 15 in the tensor/,
          );
          await fails(
            () => t.download({ offset: 10, length: 6 }),
            'ERR_NATIVE_ARGUMENT',
            /6 elements at offset 10 run past the 15 in the tensor/,
          );
          await fails(
            () => t.download({ offset: -1 }),
            'ERR_NATIVE_ARGUMENT',
            /download\(options\)\.offset must be a non-negative integer/,
          );
          await fails(
            () => t.upload(new Int32Array(2) as never, { offset: 0 }),
            'ERR_NATIVE_ARGUMENT',
            /a float32 tensor takes a Float32Array, got a Int32Array/,
          );
          await fails(() => t.download(5 as never), 'ERR_NATIVE_ARGUMENT', /into must be a typed array/);
          // A view: rows 1..2 as a [2, N] tensor over the same memory; writes through either show in the other,
          // and it keeps the memory after the tensor is released.
          const v = t.view(N, [2, N]);
          assert.deepEqual(v.dims, [2, N]);
          assert.equal(v.address - t.address, BigInt(N * 4));
          assert.deepEqual(v.download(), want.subarray(N));
          v.upload(Float32Array.from({ length: 2 * N }, (_, i) => -i));
          assert.deepEqual(
            t.download({ offset: N }),
            Float32Array.from({ length: 2 * N }, (_, i) => -i),
          );
          t.upload(Float32Array.of(7), { offset: 2 * N });
          assert.equal((v.download({ offset: N, length: 1 }) as Float32Array)[0], 7);
          await fails(
            () => t.view(N + 1, [2, N]),
            'ERR_NATIVE_ARGUMENT',
            /view\(6, \[2, 5\]\): 10 elements at offset 6 run past the 15 in the tensor/,
          );
          await fails(
            () => t.view(-1, [1]),
            'ERR_NATIVE_ARGUMENT',
            /view\(offset\) must be a non-negative integer, got -1/,
          );
          if (copyWithGraph) {
            // Zero-filled in pieces of 64 MiB (a tensor past one piece): every element is 0, the last ones too.
            const big = s.alloc('float32', [17 << 20]);
            const tail = big.download({ offset: (17 << 20) - 1024 }) as Float32Array;
            assert.ok(tail.every((v) => v === 0) && (big.download() as Float32Array).every((v) => v === 0));
            big.release();
          }
          const w = t.view(0, [N]);
          t.release();
          assert.equal((w.download() as Float32Array)[0], xs[0]);
          w.release();
          v.release();
          for (const x of [flags, pos]) x.release();
        } finally {
          s.release();
        }
      });
  });

  describe('the batched decode graph with its state on the device', () => {
    let x: Xtts;
    let ids: number[][];
    before(async () => {
      x = await Xtts.load(join(fixture, 'package'), { warmUp: false });
      ids = tinySentenceIds(x);
    });
    after(async () => {
      await x.release();
    });

    const SETTINGS = TINY_SETTINGS;

    it('outputs bound to the device feed the next run as they are, and give what onnxruntime-node gives', async (t) => {
      // The graph alone: 4 runs, state outputs left on the device and fed back; counts written into a
      // preallocated device tensor; against onnxruntime-node feeding its host outputs back.
      const host = await openSession(graphPath('gpt_batch_fp32'));
      const dev = DeviceSession.open(graphPath('gpt_batch_fp32'), { threads: 1 });
      try {
        const prompts = await Promise.all(ids.slice(0, 2).map((i) => x.gpt.prefill(cond.data, cond.shape, i)));
        // Prompts of different lengths, left-padded into one batch as BatchedGpt packs them.
        const places = prompts.map(({ cache }) => {
          const state = cache.feeds() as DecodeState;
          const length = state.past_k.dims[3] as number;
          return { state, row: 0, start: 0, length, pos: (state.pos.data as BigInt64Array)[0] as bigint };
        });
        const lengths = places.map((p) => p.length);
        assert.notEqual(lengths[0], lengths[1]);
        const p = Math.max(...lengths);
        const b = 2;
        const n = 6;
        const rngs = [new UniformSource(11), new UniformSource(12)];
        const small = (round: number) => {
          const uniforms = new Float32Array(b * n);
          rngs.forEach((r, i) => {
            uniforms.set(r.peek((round + 1) * n).subarray(round * n), i * n);
          });
          const t = tensor;
          return {
            start: t(
              'int64',
              lengths.map((l) => p - l),
              [b],
            ),
            steps: t('int64', [n, n], [b]),
            uniforms: t('float32', uniforms, [b, n]),
            stop_code: t('int64', [-1], [1]),
            temperature: t('float32', [0.8, 1], [b]),
            top_k: t('int64', [50, 1], [b]),
            top_p: t('float32', [0.85, 1], [b]),
            repetition_penalty: t('float32', [2, 5], [b]),
          };
        };
        let hostState: Record<string, Tensor> = packPlaces(batchDims(host.path, host.inputs), places);
        let devState: Record<string, DeviceTensor | Tensor> = { ...hostState };
        const counts = dev.alloc('int64', [b]);
        const stateOut = ['logits_out', 'latent_out', 'pos_out', 'seen_out', 'k_out', 'v_out'] as const;
        const stateIn = ['logits', 'latent', 'pos', 'seen', 'past_k', 'past_v'] as const;
        for (let round = 0; round < 4; round++) {
          const feeds = small(round);
          const want = await host.run({ ...hostState, ...feeds });
          const got = await dev.run(
            { ...devState, ...feeds },
            {
              codes: 'cpu',
              latents: 'cpu',
              counts,
              logits_out: 'device',
              latent_out: 'device',
              pos_out: 'device',
              seen_out: 'device',
              k_out: 'device',
              v_out: 'device',
            },
          );
          assert.equal(got.counts, counts, 'a given output tensor comes back as itself');
          assert.deepEqual(counts.download(), want.counts?.data);
          assert.deepEqual(got.codes.data, want.codes?.data, `round ${round}: codes`);
          assert.deepEqual(got.latents.dims, want.latents?.dims);
          const err = maxAbsDiff(got.latents.data as Float32Array, want.latents?.data as Float32Array);
          assert.ok(err <= 1e-6, `round ${round}: latents max abs error ${err}`);
          t.diagnostic(`round ${round}: codes equal, latents max abs error ${err}`);
          for (const o of stateOut) assert.equal(got[o].device, 'cpu');
          assert.deepEqual(got.k_out.dims, want.k_out?.dims);
          // Last round: the device KV cache holds what onnxruntime-node's host one holds.
          if (round === 3) {
            assert.deepEqual(got.k_out.download(), want.k_out?.data);
            assert.deepEqual(got.pos_out.download(), want.pos_out?.data);
          }
          const previous = devState;
          devState = Object.fromEntries(stateIn.map((k, i) => [k, got[stateOut[i] as (typeof stateOut)[number]]]));
          for (const v of Object.values(previous)) if ('release' in v) v.release();
          hostState = Object.fromEntries(stateIn.map((k, i) => [k, want[stateOut[i] as string] as Tensor]));
        }
      } finally {
        dev.release();
        await host.release();
      }
    });

    // The last: tensors allocated and copied through graph runs, as on CUDA.
    for (const [graph, copyWithGraph] of [
      ['gpt_batch_fp32', false],
      ['gpt_batch_fused_fp32', false],
      ['gpt_batch_fp32', true],
    ] as const)
      it(`${graph}${copyWithGraph ? ' (copies through graph runs)' : ''}: DeviceBatchedGpt gives each sequence exactly BatchedGpt's codes and latents, joins and leaves included`, async (t) => {
        const host = await openSession(graphPath(graph));
        const dev = DeviceSession.open(graphPath(graph), { threads: 1, copyWithGraph });
        const hostBatch = new BatchedGpt(host, { audioStop: x.gpt.stopCode });
        const devBatch = new DeviceBatchedGpt(dev, { audioStop: x.gpt.stopCode });
        try {
          type Seq = { k: number; hostId: number; devId: number; rng: UniformSource };
          const join = async (k: number): Promise<Seq> => {
            const [a, b] = await Promise.all([
              x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
              x.gpt.prefill(cond.data, cond.shape, ids[k] as number[]),
            ]);
            return {
              k,
              hostId: hostBatch.join(a.cache),
              devId: devBatch.join(b.cache),
              rng: new UniformSource(100 + k),
            };
          };
          let live = await Promise.all([0, 1, 2].map(join));
          let reusedOnDevice = 0;
          const RUN = 8;
          // Rounds: 0 all join (packed in host memory: nothing on the device yet); 1, 2 fed back; 3 sequence 1
          // ends and 3 joins (packed on the device: kept rows and a joining one); 4 fed back; 5 sequence 2 ends
          // (packed on the device, nothing joining); 6 sequence 0 sits out (packed on the device, one row);
          // 7 both again, from two device states (packed in host memory).
          for (let round = 0; round < 8; round++) {
            if (round === 3) {
              hostBatch.drop((live[1] as Seq).hostId);
              devBatch.drop((live[1] as Seq).devId);
              live = [live[0] as Seq, live[2] as Seq, await join(3)];
            }
            if (round === 5) {
              hostBatch.drop((live[1] as Seq).hostId);
              devBatch.drop((live[1] as Seq).devId);
              live = [live[0] as Seq, live[2] as Seq];
            }
            const running = round === 6 ? live.slice(1) : live;
            const req = (s: Seq, id: number): BatchRequest => ({
              id,
              uniforms: s.rng.peek(RUN),
              settings: SETTINGS[s.k] as DecodeSettings,
            });
            const want = await hostBatch.decode(running.map((s) => req(s, s.hostId)));
            const got = await devBatch.decode(running.map((s) => req(s, s.devId)));
            assert.equal(devBatch.lastStats?.reused, hostBatch.lastStats?.reused);
            assert.equal(devBatch.lastStats?.positions, hostBatch.lastStats?.positions);
            if (devBatch.lastStats?.reused) reusedOnDevice++;
            for (const s of running) {
              const w = want.get(s.hostId) as DecodeResult;
              const g = got.get(s.devId) as DecodeResult;
              assert.deepEqual(g.codes, w.codes, `round ${round}, sequence ${s.k}: codes`);
              const err = maxAbsDiff(g.latents, w.latents);
              assert.ok(err <= 1e-6, `round ${round}, sequence ${s.k}: latents max abs error ${err}`);
              s.rng.advance(g.codes.length);
              assert.equal(devBatch.residence(s.devId), 'device');
              assert.equal(devBatch.generated(s.devId), hostBatch.generated(s.hostId));
              assert.equal(devBatch.storedPosition(s.devId), BigInt(devBatch.generated(s.devId) + 1));
            }
            t.diagnostic(
              `round ${round}: ${JSON.stringify(devBatch.lastStats)} packs ${JSON.stringify(devBatch.packs)}`,
            );
            if (round === 6) assert.equal(devBatch.downloadedBytes, 0, 'nothing came back for packing before round 7');
          }
          assert.ok(reusedOnDevice >= 3, `runs feeding the device state back: ${reusedOnDevice}`);
          assert.deepEqual(devBatch.packs, { device: 3, host: 2 });
          assert.ok(devBatch.downloadedBytes > 0, 'round 7 brought its two device states back');
          t.diagnostic(`bytes brought back for packing: ${devBatch.downloadedBytes}`);
          // Sequence 0 leaves and goes on alone through the batch-1 graph: same codes as from the host batch.
          const s0 = live[0] as Seq;
          const hostCache = hostBatch.leave(s0.hostId);
          const devCache = devBatch.leave(s0.devId);
          const u = s0.rng.peek(4); // 56 codes so far: the tiny model has 63 audio positions
          const a = await x.gpt.decode(hostCache, u, SETTINGS[0] as DecodeSettings);
          const b = await x.gpt.decode(devCache, u, SETTINGS[0] as DecodeSettings);
          assert.deepEqual(b.codes, a.codes);
          assert.ok(maxAbsDiff(b.latents, a.latents) <= 1e-6);
          for (const s of live.slice(1)) {
            hostBatch.drop(s.hostId);
            devBatch.drop(s.devId);
          }
          assert.equal(devBatch.size, 0);
        } finally {
          devBatch.close();
          dev.release();
          await host.release();
        }
      });
  });

  it('runs in worker threads (where the engine runs inference) beside the main thread', async () => {
    // Each thread loads the addon into its own JS environment; a run in each must give the same result.
    const dir = mkdtempSync(join(tmpdir(), 'ort-device-'));
    const script = join(dir, 'worker.mjs');
    writeFileSync(
      script,
      `import { parentPort, workerData } from 'node:worker_threads';
const { DeviceSession } = await import(workerData.index);
const s = DeviceSession.open(workerData.graph, { threads: 1 });
const t = s.alloc('float32', [1, 32], Float32Array.from({ length: 32 }, (_, i) => i / 32));
const out = await s.run({ ...workerData.feeds, latent: t }, { codes: 'cpu', k_out: 'device' });
parentPort.postMessage({ codes: Array.from(out.codes.data, Number), k: Array.from(out.k_out.download()) });
out.k_out.release();
t.release();
s.release();
`,
    );
    const b = 1;
    const feeds = {
      logits: { type: 'float32', dims: [b, 1026], data: Float32Array.from({ length: 1026 }, (_, i) => Math.sin(i)) },
      pos: { type: 'int64', dims: [b], data: BigInt64Array.from([1n]) },
      seen: { type: 'bool', dims: [b, 1026], data: new Uint8Array(1026) },
      past_k: {
        type: 'float32',
        dims: [2, b, 2, 3, 16],
        data: Float32Array.from({ length: 192 }, (_, i) => Math.cos(i)),
      },
      past_v: {
        type: 'float32',
        dims: [2, b, 2, 3, 16],
        data: Float32Array.from({ length: 192 }, (_, i) => Math.sin(i)),
      },
      start: { type: 'int64', dims: [b], data: BigInt64Array.from([0n]) },
      steps: { type: 'int64', dims: [b], data: BigInt64Array.from([3n]) },
      uniforms: { type: 'float32', dims: [b, 3], data: Float32Array.from([0.2, 0.5, 0.9]) },
      stop_code: { type: 'int64', dims: [1], data: BigInt64Array.from([-1n]) },
      temperature: { type: 'float32', dims: [b], data: Float32Array.from([1]) },
      top_k: { type: 'int64', dims: [b], data: BigInt64Array.from([50n]) },
      top_p: { type: 'float32', dims: [b], data: Float32Array.from([0.9]) },
      repetition_penalty: { type: 'float32', dims: [b], data: Float32Array.from([2]) },
    };
    try {
      const workerData = {
        index: pathToFileURL(join(import.meta.dirname, 'index.ts')).href,
        graph: graphPath('gpt_batch_fp32'),
        feeds,
      };
      const inWorker = () =>
        new Promise<{ codes: number[]; k: number[] }>((resolve, reject) => {
          const w = new Worker(script, { workerData });
          w.once('message', (m) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        });
      const s = DeviceSession.open(graphPath('gpt_batch_fp32'), { threads: 1 });
      const t = s.alloc(
        'float32',
        [1, 32],
        Float32Array.from({ length: 32 }, (_, i) => i / 32),
      );
      const [a, bb, main] = await Promise.all([
        inWorker(),
        inWorker(),
        s.run({ ...feeds, latent: t }, { codes: 'cpu', k_out: 'device' }),
      ]);
      const here = {
        codes: Array.from(main.codes.data as BigInt64Array, Number),
        k: Array.from(main.k_out.download() as Float32Array),
      };
      assert.equal(here.codes.length, 3);
      assert.deepEqual(a, here);
      assert.deepEqual(bb, here);
      // The main thread's tensors still work after the workers' environments are gone.
      assert.deepEqual(
        Array.from(t.download() as Float32Array),
        Array.from({ length: 32 }, (_, i) => Math.fround(i / 32)),
      );
      main.k_out.release();
      s.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('bad input gets a clear error, not a crash', () => {
    let s: DeviceSession;
    let host: Session;
    before(async () => {
      s = DeviceSession.open(graphPath('gpt_batch_fp32'), { threads: 1 });
      host = await openSession(graphPath('gpt_batch_fp32'));
    });
    after(async () => {
      s.release();
      await host.release();
    });

    /** A valid feed for a batch of one with an empty cache. */
    const feeds = (): Record<string, { type: string; dims: number[]; data: unknown }> => ({
      logits: { type: 'float32', dims: [1, 1026], data: new Float32Array(1026) },
      latent: { type: 'float32', dims: [1, 32], data: new Float32Array(32) },
      pos: { type: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
      seen: { type: 'bool', dims: [1, 1026], data: new Uint8Array(1026) },
      past_k: { type: 'float32', dims: [2, 1, 2, 1, 16], data: new Float32Array(64) },
      past_v: { type: 'float32', dims: [2, 1, 2, 1, 16], data: new Float32Array(64) },
      start: { type: 'int64', dims: [1], data: BigInt64Array.from([0n]) },
      steps: { type: 'int64', dims: [1], data: BigInt64Array.from([2n]) },
      uniforms: { type: 'float32', dims: [1, 2], data: Float32Array.from([0.5, 0.5]) },
      stop_code: { type: 'int64', dims: [1], data: BigInt64Array.from([-1n]) },
      temperature: { type: 'float32', dims: [1], data: Float32Array.from([1]) },
      top_k: { type: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
      top_p: { type: 'float32', dims: [1], data: Float32Array.from([1]) },
      repetition_penalty: { type: 'float32', dims: [1], data: Float32Array.from([1]) },
    });

    it('a valid feed runs (the cases below differ from it in one thing)', async () => {
      const out = await s.run(feeds(), { codes: 'cpu', counts: 'cpu' });
      assert.deepEqual(out.counts.data, BigInt64Array.from([2n]));
      assert.deepEqual(out.codes.dims, [1, 2]);
    });

    it('names, types and shapes', async () => {
      await fails(
        () => s.run({ ...feeds(), tokens: feeds().pos as never }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /unknown input 'tokens' \(the graph's inputs: logits, latent, pos,/,
      );
      const { uniforms: _, ...without } = feeds();
      await fails(
        () => s.run(without, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /missing input uniforms \(float32 \[batch, steps_max\]\)/,
      );
      await fails(
        () => s.run({ ...feeds(), pos: { type: 'int32', dims: [1], data: Int32Array.from([1]) } }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /input 'pos' is int32 \[1\], the graph wants int64 \[batch\]/,
      );
      await fails(
        () =>
          s.run(
            { ...feeds(), latent: { type: 'float32', dims: [1, 31], data: new Float32Array(31) } },
            { codes: 'cpu' },
          ),
        'ERR_NATIVE_ARGUMENT',
        /input 'latent' is float32 \[1, 31\], the graph wants float32 \[batch, 32\]/,
      );
      await fails(
        () =>
          s.run({ ...feeds(), start: { type: 'int64', dims: [1, 1], data: new BigInt64Array(1) } }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /input 'start' is int64 \[1, 1\], the graph wants int64 \[batch\]/,
      );
      await fails(
        () => s.run({ ...feeds(), top_p: { type: 'float32', dims: [1], data: new Float64Array(1) } }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /input 'top_p': a float32 tensor takes a Float32Array, got a Float64Array/,
      );
      await fails(
        () => s.run({ ...feeds(), top_p: { type: 'float32', dims: [2], data: new Float32Array(1) } }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /input 'top_p': 1 elements for 2 in the tensor/,
      );
      await fails(
        () =>
          s.run({ ...feeds(), top_p: { type: 'complex64', dims: [1], data: new Float32Array(2) } }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /unsupported tensor type 'complex64'/,
      );
      await fails(
        () => s.run(feeds(), { logits: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /unknown output 'logits' \(the graph's outputs: codes,/,
      );
      await fails(
        () => s.run(feeds(), { codes: 'gpu' as never }),
        'ERR_NATIVE_ARGUMENT',
        /output 'codes' must be 'device', 'cpu' or a DeviceTensor/,
      );
      await fails(() => s.run(feeds(), {}), 'ERR_NATIVE_ARGUMENT', /name at least one output/);
      const wrong = s.alloc('float32', [1, 2]);
      await fails(
        () => s.run(feeds(), { counts: wrong }),
        'ERR_NATIVE_ARGUMENT',
        /output 'counts' is float32 \[1, 2\], the graph wants int64 \[batch\]/,
      );
      wrong.release();
      // A mismatch that only onnxruntime sees (batch sizes that disagree between inputs): its message, its code.
      await fails(
        () => s.run({ ...feeds(), top_p: { type: 'float32', dims: [3], data: new Float32Array(3) } }, { codes: 'cpu' }),
        'ERR_ORT_INVALID_ARGUMENT',
        /gpt_batch_fp32\.onnx: run failed: .*Indices vs updates dimensions differs/,
      );
      // The session still runs after all of that.
      assert.deepEqual((await s.run(feeds(), { counts: 'cpu' })).counts.data, BigInt64Array.from([2n]));
    });

    it('released tensors and sessions, tensors of the wrong kind', async () => {
      const t = s.alloc('float32', [1, 32]);
      t.release();
      t.release();
      await fails(
        () => s.run({ ...feeds(), latent: t }, { codes: 'cpu' }),
        'ERR_NATIVE_RELEASED',
        /input 'latent': tensor used after release\(\)/,
      );
      await fails(() => t.download(), 'ERR_NATIVE_RELEASED', /tensor used after release\(\)/);
      await fails(() => t.upload(new Float32Array(32)), 'ERR_NATIVE_RELEASED', /tensor used after release\(\)/);
      await fails(() => t.dims, 'ERR_NATIVE_RELEASED', /tensor used after release\(\)/);
      const u = s.alloc('float32', [4]);
      await fails(
        () => u.upload(new Float32Array(3)),
        'ERR_NATIVE_ARGUMENT',
        /upload\(data\): 3 elements for 4 in the tensor/,
      );
      await fails(
        () => u.upload(new Int32Array(4) as never),
        'ERR_NATIVE_ARGUMENT',
        /a float32 tensor takes a Float32Array, got a Int32Array/,
      );
      await fails(() => u.upload([1, 2, 3, 4] as never), 'ERR_NATIVE_ARGUMENT', /upload\(data\) must be a typed array/);
      await fails(
        () => s.alloc('float32', [2, -1]),
        'ERR_NATIVE_ARGUMENT',
        /alloc\(dims\)\[1\] must be a non-negative integer/,
      );
      await fails(
        () => s.alloc('float32', [2], new Float32Array(3)),
        'ERR_NATIVE_ARGUMENT',
        /alloc\(data\): 3 elements for 2/,
      );
      await fails(
        () => s.run({ ...feeds(), latent: [1, 2] as never }, { codes: 'cpu' }),
        'ERR_NATIVE_ARGUMENT',
        /input 'latent' must be a DeviceTensor or a host tensor/,
      );
      // A tensor outlives its session: the memory stays valid until the tensor goes.
      const other = DeviceSession.open(graphPath('gpt_batch_fp32'));
      const kept = other.alloc('float32', [3], Float32Array.from([1, 2, 3]));
      other.release();
      assert.deepEqual(kept.download(), Float32Array.from([1, 2, 3]));
      await fails(() => other.alloc('float32', [1]), 'ERR_NATIVE_RELEASED', /session used after release\(\)/);
      await fails(() => other.run(feeds(), { codes: 'cpu' }), 'ERR_NATIVE_RELEASED', /session used after release\(\)/);
      kept.release();
    });

    it('files and options', async () => {
      await fails(
        () => DeviceSession.open(join(fixture, 'batch', 'missing.onnx')),
        'ERR_ORT_NO_SUCHFILE',
        /missing\.onnx: could not open on cpu: .*File doesn't exist/,
      );
      await fails(
        () => DeviceSession.open(join(fixture, 'package', 'vocab.json')),
        'ERR_ORT_INVALID_PROTOBUF',
        /vocab\.json: could not open on cpu/,
      );
      await fails(
        () => DeviceSession.open(graphPath('gpt_batch_fp32'), { device: 'tpu' as never }),
        'ERR_NATIVE_ARGUMENT',
        /options\.device must be 'cpu' or 'cuda', got 'tpu'/,
      );
      await fails(
        () => DeviceSession.open(graphPath('gpt_batch_fp32'), { cudaGraph: true }),
        'ERR_NATIVE_ARGUMENT',
        /options\.cudaGraph needs options\.device 'cuda'/,
      );
      await fails(
        () => DeviceSession.open(graphPath('gpt_batch_fp32'), { config: { 'session.no_such_key': 1 as never } }),
        'ERR_NATIVE_ARGUMENT',
        /options\.config\.session\.no_such_key must be a string/,
      );
    });
  });
});
