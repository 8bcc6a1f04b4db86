/**
 * The GPT's prompt pass (prefill) at batch 1 through the native addon, by prompt length: what one
 * stream's prompt costs, and what a burst of them costs in flight at once, the way the server runs them.
 *
 *   node inference/bench/prefill.ts --package DIR [--graphs DIR] [--device cuda|cpu]
 *        [--lengths 8,16,32,64,128] [--runs 20] [--burst 64] [--cuda-graph] [--prefill FILE]
 *        [--ort-profile DIR] [--greedy-codes N [--penalties 1,5,10] [--sentences 8]] [--json OUT]
 *
 * --prefill FILE: this gpt_prefill graph instead of the package's (e.g. one exported another way, for a
 * baseline in the same run on the same device).
 * --ort-profile DIR: at the end, a session of the same graph with onnxruntime's profiling runs 5 prompts of
 * each length one after another (after one not counted); for each length, a run's wall time inside
 * onnxruntime, the sum of its nodes' times on the calling thread (on CUDA a node's time is mostly its
 * kernels' launch), how many nodes ran, and the op types that took the most; the trace is left in DIR.
 * --greedy-codes N (with a package that has gpt_prefill_fused_fp32): whether the fused-operator prefill
 * (INFERENCE_PREFILL_GRAPH=fused) keeps the traced prefill's greedy codes: the engine (Xtts, as the server
 * loads it with the settings of the environment: INFERENCE_NATIVE, INFERENCE_BATCH_GRAPH and so on, one
 * slot a sentence) renders --sentences of bench:gpu's sentences at once, greedily (top_k 1), at most N codes
 * each, at each repetition penalty, with either prefill; each sentence's codes are compared.
 *
 * For each length T (text tokens, start and stop included; the voice's conditioning latents come first),
 * ms per prompt, mean and p95 of --runs runs one after another:
 *   - `one pass`: gpt_prefill_<precision> with host inputs, logits and latent to host memory and the keys
 *     and values left on the device (what Gpt.prefillOnDevice does);
 *   - `bound`: the same graph with its inputs and outputs bound once in device memory (no allocation, no
 *     host copies of the inputs): what is left is the graph's own kernels and their launches;
 *   - `CUDA graph` (--cuda-graph, CUDA only): the same bindings on a session opened with onnxruntime's
 *     enable_cuda_graph, one graph per length (gpu_graph_id), captured on the first run and replayed; its
 *     outputs compared with `one pass`'s (largest difference of logits, latent, keys and values);
 *   - `kept prefix`: where the package has gpt_prefill_prefix_<precision> (`xtts.export --batch`), the
 *     prompt's text after a voice's kept conditioning positions (PrefixCache, INFERENCE_PREFIX_CACHE),
 *     the voice computed once before the timed runs; its outputs compared with `one pass`'s.
 * Then --burst prompts of length T in flight at once (each a `one pass` run on libuv's pool, as a burst
 * of streams reaches the server): the wall time of the whole burst and its prompts' mean and p95; again
 * through the kept prefix (one voice) where the package has it.
 *
 * Whether launches or arithmetic bound the pass is read off how the time grows with T: a pass whose ms
 * hardly change from 8 to 128 tokens is bound by its kernels' launches (a CUDA graph's case), one that
 * grows with T by its arithmetic (fewer positions' case: the kept prefix).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../infra/index.ts';
import { engineOptions } from '../engine/engine.ts';
import { GREEDY } from '../generation/config.ts';
import { DeviceSession, type DeviceTensor, nativeAvailable } from '../native/index.ts';
import { PrefixCache } from '../native/prefix-cache.ts';
import { readManifest } from '../xtts/manifest.ts';
import { Xtts } from '../xtts/xtts.ts';
import { SENTENCES } from './sentences.ts';

const { values: args } = parseArgs({
  options: {
    package: { type: 'string' },
    graphs: { type: 'string' },
    device: { type: 'string', default: 'cuda' },
    precision: { type: 'string', default: 'fp32' },
    lengths: { type: 'string', default: '8,16,32,64,128' },
    runs: { type: 'string', default: '20' },
    burst: { type: 'string', default: '64' },
    'cuda-graph': { type: 'boolean', default: false },
    prefill: { type: 'string' },
    'ort-profile': { type: 'string' },
    'greedy-codes': { type: 'string', default: '0' },
    penalties: { type: 'string', default: '1,5,10' },
    sentences: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const lengths = list(args.lengths as string);
const runs = Number(args.runs);
const burst = Number(args.burst);
const device = args.device as 'cpu' | 'cuda';
if (!args.package || ![...lengths, runs, burst].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('bench:prefill: --package DIR is required; --lengths, --runs and --burst take positive integers');
  process.exit(2);
}
if (device !== 'cpu' && device !== 'cuda') {
  console.error(`bench:prefill: --device is cpu or cuda, not ${device}`);
  process.exit(2);
}
if (args['cuda-graph'] && device !== 'cuda') {
  console.error('bench:prefill: --cuda-graph needs --device cuda');
  process.exit(2);
}
const addon = nativeAvailable();
if (!addon.ok) {
  console.error(`bench:prefill: the native addon: ${addon.reason}`);
  process.exit(2);
}

const pkg = resolve(args.package);
const graphsDir = resolve(args.graphs ?? join(pkg, '..', 'batch'));
const graphFile = (name: string): string | null =>
  [join(pkg, `${name}.onnx`), join(graphsDir, `${name}.onnx`)].find((p) => existsSync(p)) ?? null;
const { manifest } = await readManifest(pkg);
const config = manifest.model.config as Record<string, number>;
const width = config.gpt_n_model_channels as number;
const latents = config.perceiver_latents as number;
const textTokens = config.gpt_number_text_tokens as number;
const precision = args.precision as string;
const onePath = args.prefill ? resolve(args.prefill) : graphFile(`gpt_prefill_${precision}`);
if (!onePath) {
  console.error(`bench:prefill: ${pkg} has no gpt_prefill_${precision}`);
  process.exit(2);
}
const prefixPath = graphFile(`gpt_prefill_prefix_${precision}`);

// The server's settings for an addon session on CUDA (xtts/package.ts): the arena grown by what is
// asked, TF32 off, no spinning threads.
const cudaOptions = { arena_extend_strategy: 'kSameAsRequested', use_tf32: '0' };
const open = (path: string, extra: { cudaGraph?: boolean; profile?: string } = {}) =>
  DeviceSession.open(path, {
    device,
    ...(device === 'cuda' ? { providerOptions: cudaOptions } : {}),
    config: { 'session.intra_op.allow_spinning': '0' },
    ...extra,
  });

/** A deterministic voice and prompt: cond values in [-1, 1), text ids [start] ... [stop]. */
let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const cond = Float32Array.from({ length: latents * width }, () => rand() * 2 - 1);
const condShape = [1, latents, width];
const prompt = (t: number): number[] =>
  Array.from({ length: t }, (_, i) =>
    i === 0
      ? (config.gpt_start_text_token as number)
      : i === t - 1
        ? (config.gpt_stop_text_token as number)
        : 1 + Math.floor(rand() * (textTokens - 2)),
  );
const hostInputs = (ids: readonly number[]) => ({
  cond: { type: 'float32', dims: condShape, data: cond },
  text_ids: { type: 'int64', dims: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
});

/** A prompt's pass as the server runs it: logits and latent to host memory, keys and values left on the device. */
const pass = (s: DeviceSession, ids: readonly number[]) =>
  s.run(hostInputs(ids), { logits: 'cpu', latent: 'cpu', present_k: 'device', present_v: 'device' });
/** Gives back a pass's keys and values (device memory). */
const releaseKv = (r: { present_k: DeviceTensor; present_v: DeviceTensor }) => {
  r.present_k.release();
  r.present_v.release();
};
/** A pass as the server runs it, its keys and values given back at once. */
const passOnly = async (s: DeviceSession, ids: readonly number[]) => releaseKv(await pass(s, ids));

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return {
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p95: s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number,
  };
};
const timeRuns = async (run: () => Promise<unknown>): Promise<{ mean: number; p95: number }> => {
  await run(); // warm-up (a CUDA graph's capture)
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  return stats(ms);
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};
type Outputs = { logits: Float32Array; latent: Float32Array; k: Float32Array; v: Float32Array };
const diff = (a: Outputs, b: Outputs) =>
  Math.max(maxDiff(a.logits, b.logits), maxDiff(a.latent, b.latent), maxDiff(a.k, b.k), maxDiff(a.v, b.v));

const one = open(onePath);
// onnxruntime refuses a CUDA graph for a graph with nodes it places on the CPU (a dynamic-shape graph's
// shape arithmetic): that answer is the row's result.
let graphSession: DeviceSession | null = null;
let graphRefused: string | null = null;
if (args['cuda-graph'])
  try {
    graphSession = open(onePath, { cudaGraph: true });
  } catch (e) {
    graphRefused = `the session did not open: ${(e as Error).message.slice(0, 300)}`;
  }
const prefix = prefixPath ? new PrefixCache(open(prefixPath), { voices: 1 }) : null;
console.log(
  `prefill at batch 1, ${device}, ${onePath}${prefixPath ? ` and ${prefixPath}` : ''}; ${latents} conditioning ` +
    `positions + T text tokens; ${runs} runs a row, ms per prompt (mean / p95); burst of ${burst} in flight`,
);

type Row = {
  textTokens: number;
  onePass: { mean: number; p95: number };
  bound: { mean: number; p95: number };
  cudaGraph?: { mean: number; p95: number; maxDiff: number } | { error: string };
  keptPrefix?: { mean: number; p95: number; maxDiff: number };
  burst: { wallMs: number; mean: number; p95: number };
  burstKeptPrefix?: { wallMs: number; mean: number; p95: number };
};
const rows: Row[] = [];
const fmt = (s: { mean: number; p95: number }) => `${s.mean.toFixed(2)} / ${s.p95.toFixed(2)}`;

for (const t of lengths) {
  const ids = prompt(t);
  // The reference outputs: a plain run, everything to host memory.
  const ref = await one.run(hostInputs(ids), { logits: 'cpu', latent: 'cpu', present_k: 'cpu', present_v: 'cpu' });
  const refOut: Outputs = {
    logits: ref.logits.data as Float32Array,
    latent: ref.latent.data as Float32Array,
    k: ref.present_k.data as Float32Array,
    v: ref.present_v.data as Float32Array,
  };
  const onePass = await timeRuns(() => passOnly(one, ids));

  /** Inputs and outputs of this length in `s`'s device memory, bound once. */
  const bindOn = (s: DeviceSession) => {
    const ins = {
      cond: s.alloc('float32', condShape, cond),
      text_ids: s.alloc('int64', [1, ids.length], BigInt64Array.from(ids, BigInt)),
    };
    const outs: Record<'logits' | 'latent' | 'present_k' | 'present_v', DeviceTensor> = {
      logits: s.alloc('float32', ref.logits.dims),
      latent: s.alloc('float32', ref.latent.dims),
      present_k: s.alloc('float32', ref.present_k.dims),
      present_v: s.alloc('float32', ref.present_v.dims),
    };
    const binding = s.bind(ins, outs);
    return {
      binding,
      read: (): Outputs => ({
        logits: outs.logits.download() as Float32Array,
        latent: outs.latent.download() as Float32Array,
        k: outs.present_k.download() as Float32Array,
        v: outs.present_v.download() as Float32Array,
      }),
      release: () => {
        binding.release();
        for (const x of [...Object.values(ins), ...Object.values(outs)]) x.release();
      },
    };
  };
  const plainBound = bindOn(one);
  const bound = await timeRuns(() => plainBound.binding.run());
  plainBound.release();
  const row: Row = { textTokens: t, onePass, bound, burst: { wallMs: 0, mean: 0, p95: 0 } };

  if (graphRefused) row.cudaGraph = { error: graphRefused };
  if (graphSession) {
    try {
      const g = bindOn(graphSession);
      const s = await timeRuns(() => g.binding.run());
      row.cudaGraph = { ...s, maxDiff: diff(g.read(), refOut) };
      g.release();
    } catch (e) {
      row.cudaGraph = { error: (e as Error).message.slice(0, 300) };
    }
  }
  if (prefix) {
    const kept = () => prefix.prefill(cond, condShape, ids);
    const first = await kept();
    const got: Outputs = {
      logits: first.logits.data as Float32Array,
      latent: first.latent.data as Float32Array,
      k: first.present_k.download() as Float32Array,
      v: first.present_v.download() as Float32Array,
    };
    releaseKv(first);
    const s = await timeRuns(async () => releaseKv(await kept()));
    row.keptPrefix = { ...s, maxDiff: diff(got, refOut) };
  }

  /** `burst` prompts in flight at once; each one's own time and the whole burst's. */
  const inFlight = async (pass: () => Promise<{ present_k: DeviceTensor; present_v: DeviceTensor }>) => {
    const t0 = performance.now();
    const each = await Promise.all(
      Array.from({ length: burst }, async () => {
        const r = await pass();
        const ms = performance.now() - t0;
        releaseKv(r);
        return ms;
      }),
    );
    return { wallMs: performance.now() - t0, ...stats(each) };
  };
  await inFlight(() => pass(one, ids)); // warm-up: the arena grows to a burst's size
  row.burst = await inFlight(() => pass(one, ids));
  if (prefix) {
    await inFlight(() => prefix.prefill(cond, condShape, ids));
    row.burstKeptPrefix = await inFlight(() => prefix.prefill(cond, condShape, ids));
  }
  rows.push(row);

  const graphNote = !row.cudaGraph
    ? ''
    : 'error' in row.cudaGraph
      ? `; CUDA graph FAILED: ${row.cudaGraph.error}`
      : `; CUDA graph ${fmt(row.cudaGraph)} (max diff ${row.cudaGraph.maxDiff.toExponential(2)})`;
  const prefixNote = row.keptPrefix
    ? `; kept prefix ${fmt(row.keptPrefix)} (max diff ${row.keptPrefix.maxDiff.toExponential(2)})`
    : '';
  const burstNote =
    `; burst of ${burst}: ${row.burst.wallMs.toFixed(1)} ms in all, each ${fmt(row.burst)}` +
    (row.burstKeptPrefix
      ? `, through the kept prefix ${row.burstKeptPrefix.wallMs.toFixed(1)} ms, each ${fmt(row.burstKeptPrefix)}`
      : '');
  console.log(`T=${t}: one pass ${fmt(onePass)}; bound ${fmt(bound)}${graphNote}${prefixNote}${burstNote}`);
}

prefix?.close();
graphSession?.release();
one.release();

type TraceEvent = { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string } };
type ProfileRow = { textTokens: number; runMs: number; nodesMs: number; nodes: number; topOps: [string, number][] };
const profileRows: ProfileRow[] = [];
if (args['ort-profile']) {
  const dir = resolve(args['ort-profile']);
  mkdirSync(dir, { recursive: true });
  const profiled = open(onePath, { profile: join(dir, 'prefill') });
  const counted = 5;
  for (const t of lengths) {
    const ids = prompt(t);
    for (let i = 0; i <= counted; i++) await passOnly(profiled, ids);
  }
  const path = profiled.endProfiling();
  profiled.release();
  const events = JSON.parse(readFileSync(path, 'utf8')) as TraceEvent[];
  const runsSeen = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  lengths.forEach((t, li) => {
    const mine = runsSeen.slice(li * (counted + 1) + 1, (li + 1) * (counted + 1));
    const byOp = new Map<string, number>();
    let nodeUs = 0;
    let nodeCount = 0;
    for (const r of mine)
      for (const n of nodes)
        if (n.ts >= r.ts && n.ts <= r.ts + r.dur) {
          nodeUs += n.dur;
          nodeCount++;
          const op = n.args?.op_name ?? '?';
          byOp.set(op, (byOp.get(op) ?? 0) + n.dur);
        }
    const runs = Math.max(1, mine.length);
    const row: ProfileRow = {
      textTokens: t,
      runMs: mine.reduce((a, r) => a + r.dur, 0) / runs / 1000,
      nodesMs: nodeUs / runs / 1000,
      nodes: nodeCount / runs,
      topOps: [...byOp.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([op, us]) => [op, us / runs / 1000]),
    };
    profileRows.push(row);
    console.log(
      `T=${t}, onnxruntime's profile: a run ${row.runMs.toFixed(2)} ms, its ${row.nodes.toFixed(0)} nodes ` +
        `${row.nodesMs.toFixed(2)} ms on the calling thread; most: ` +
        row.topOps.map(([op, ms]) => `${op} ${ms.toFixed(2)}`).join(', '),
    );
  });
  console.log(`onnxruntime's trace: ${path}`);
}
type CodesRow = { repetitionPenalty: number; equal: number; sentences: number; firstDifference: (number | null)[] };
const codesRows: CodesRow[] = [];
const greedyCodes = Number(args['greedy-codes']);
if (greedyCodes > 0) {
  if (!manifest.graphs.gpt_prefill_fused_fp32) {
    console.error(`bench:prefill: --greedy-codes needs a package with gpt_prefill_fused_fp32 (xtts.export --batch)`);
    process.exit(2);
  }
  const texts = SENTENCES.slice(0, Number(args.sentences));
  const base = engineOptions(loadConfig());
  const penalties = list(args.penalties as string);
  const voice = {
    packageKey: '',
    gptCondLatent: cond,
    gptCondShape: condShape,
    speakerEmbedding: Float32Array.from({ length: config.d_vector_dim as number }, () => rand() * 0.2 - 0.1),
    speakerShape: [1, config.d_vector_dim as number, 1],
  };
  /** The engine loaded once with that prefill: each sentence's greedy codes at each penalty, in order. */
  const render = async (prefillGraph: 'trace' | 'fused') => {
    const x = await Xtts.load(pkg, {
      ...base,
      device,
      precision: 'fp32',
      prefillGraph,
      warmUp: false,
      batchedDecode: base.batchedDecode ?? false,
      nativeBatch: base.native === 'on',
      staticDecode: { slots: texts.length },
      decodeBatch: { maxBatch: texts.length },
      maxAudioCodes: greedyCodes,
    });
    try {
      const codes: number[][][] = [];
      for (const penalty of penalties) {
        const got = await Promise.all(
          texts.map(async (text) => {
            const r = await x.render({
              text,
              language: 'en',
              voice: { ...voice, packageKey: x.pkg.key },
              params: {
                topK: GREEDY.top_k,
                topP: GREEDY.top_p,
                temperature: GREEDY.temperature,
                repetitionPenalty: penalty,
                seed: 1,
                babbleGuard: false,
              },
            });
            return r.codes.flat();
          }),
        );
        codes.push(got);
      }
      return { codes, path: x.promptPath };
    } finally {
      await x.release();
    }
  };
  const trace = await render('trace');
  const fused = await render('fused');
  for (const [p, penalty] of penalties.entries()) {
    const want = trace.codes[p] as number[][];
    const got = fused.codes[p] as number[][];
    const firstDifference = want.map((a, i) => {
      const b = got[i] as number[];
      const n = Math.max(a.length, b.length);
      for (let j = 0; j < n; j++) if (a[j] !== b[j]) return j;
      return null;
    });
    const row = {
      repetitionPenalty: penalty,
      equal: firstDifference.filter((d) => d === null).length,
      sentences: texts.length,
      firstDifference,
    };
    codesRows.push(row);
    console.log(
      `greedy codes, repetition penalty ${penalty}: fused prefill ("${fused.path}") against traced ("${trace.path}"): ` +
        `${row.equal}/${row.sentences} sentences equal (${want.map((a) => a.length).join(', ')} codes)` +
        (row.equal < row.sentences
          ? `; first differences at codes ${firstDifference.map((d) => d ?? '-').join(', ')}`
          : ''),
    );
  }
}

if (args.json) {
  writeFileSync(
    resolve(args.json),
    `${JSON.stringify({ device, precision, latents, runs, burst, rows, profile: profileRows, greedy: codesRows }, null, 2)}\n`,
  );
  console.log(`wrote ${resolve(args.json)}`);
}
