/**
 * The batched decode graph (gpt_batch_*) through onnxruntime-node, whose state crosses to host memory
 * and back on every run (BatchedGpt), against the native addon with the state left in device memory
 * and fed back (DeviceBatchedGpt): ms per code at each batch size B.
 *
 *   node inference/bench/native.ts --package DIR [--graphs DIR] | --dir GRAPHS
 *        [--device cpu|cuda] [--precision fp32|fp16] [--batched gpt_batch|gpt_batch_fused] [--cuda-graph]
 *        [--batches 1,8,32,64] [--codes N] [--runs N] [--churn] [--static] [--static-graph NAMES]
 *        [--max-len N] [--threads N] [--json OUT] [--greedy] [--repetition-penalty R] [--sentences]
 *
 * --package DIR: a model package; its batched graph from its manifest, or from --graphs DIR (default:
 * a `batch` folder beside the package, as in the tiny fixture: `--package test/fixtures/tiny/package`).
 * --dir GRAPHS: graphs and sizes.json as `python3 -m xtts.bench.batch_graphs` writes them.
 * --cuda-graph: the addon's session also gets the CUDA provider's enable_cuda_graph (onnxruntime
 * refuses it for a graph with a Loop; the failure is reported in the table instead of a row).
 *
 * Each B: B prompts of 8 to 40 text tokens (padded batch, as in service), the release's sampling
 * settings, the stop code fed as -1 so each run does all its codes. One warm-up run per path from
 * the same prompts and uniforms (their codes are compared), then --runs runs of --codes codes with
 * the same members, so each run feeds the last one's state back: ms per code = wall time over all codes
 * (one worker's throughput); ms per step = wall time over the Loop's iterations (what each stream waits per code).
 * --churn: before each timed run one member leaves and a new prompt joins (as streams come and go in
 * service), so every timed run packs: in host memory for onnxruntime-node, on the device for the
 * addon (only the joining row crosses); the prefill is not timed. The fixed-shape step's members join
 * with their keys and values in its device memory (as the server's prefills leave them), written into
 * their slots by copies (copyBlocks); --join-graph: by the slot write graph instead.
 * --static: the addon's rows are the fixed-shape step (gpt_step_static_<precision>, StaticGpt) instead
 * of the batched graph: B slots, chunks of --codes steps, its state bound in place; with --cuda-graph
 * also a second row with the step captured as a CUDA graph and replayed. Its stop code is the model's
 * (a constant of the graph), so a sequence may stop early: ms per code counts the codes made, ms per
 * step the steps run, and the agreement compares each sequence's codes with the same number of
 * onnxruntime-node's. "runs feeding the state back" is every run (the state never moves); "packing on
 * the device" counts the joins written into a slot during the timed runs (--churn).
 * --static-graph NAMES (implies --static): which fixed-shape steps, comma-separated, each timed in its
 * own rows (e.g. gpt_step_static,gpt_step_static_fused to compare the plain step with its fused-operator
 * variant in one run). Default: gpt_step_static_dmmha, else gpt_step_static_inplace, else gpt_step_static_fused, where the package or
 * folder has it, else gpt_step_static (as the engine chooses); the choice is printed.
 * --max-len N: the fixed-shape step's KV columns per slot (default: room for these runs only); the
 * server's is the longest prompt plus the code limit (xtts/package.ts staticSizes), and a step whose
 * attention reads every column costs more with it.
 * --greedy: every row takes the most likely code (top_k 1) instead of the release's sampling settings,
 * with --repetition-penalty R (default the release's): the agreement then says whether each path's
 * greedy codes are onnxruntime-node's (the fp32 engine's batched graph) for those prompts.
 * --sentences (with --package): prompt i is sentence i (mod their number) of bench:gpu's English
 * sentences (sentences.ts) through the package's tokenizer, between its text start and stop tokens
 * (cut to the model's text positions), instead of made-up ids.
 * --batch-addon (with --static-graph): the batched graph through the addon too (its session's TF32 off
 * by use_tf32=0, where onnxruntime-node's relies on NVIDIA_TF32_OVERRIDE), each compared with
 * onnxruntime-node's: where the steps part from onnxruntime-node, whether they part from it too.
 * The addon is built first if it is not (npm run build:native).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cudaFp32WithoutTf32 } from '../../infra/index.ts';
import { GREEDY, SAMPLING_DEFAULTS } from '../generation/config.ts';
import { DeviceBatchedGpt } from '../native/batch.ts';
import { DeviceSession, nativeAvailable, nativeCopyPath } from '../native/index.ts';
import { cacheOnDevice, StaticGpt, stepMaxLen } from '../native/static.ts';
import { type Device, openSession } from '../runtime/index.ts';
import { VoiceTokenizer } from '../text/tokenizer.ts';
import { type BatchCore, BatchedGpt, type KvState } from '../xtts/batch.ts';
import { UniformSource } from '../xtts/generate.ts';
import { type DecodeResult, type DecodeSettings, Gpt, type GptKvCache } from '../xtts/gpt.ts';
import { readManifest } from '../xtts/manifest.ts';
import { type GraphSizes, packageGraphSizes } from './graph-sizes.ts';
import { SENTENCES } from './sentences.ts';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    package: { type: 'string' },
    graphs: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    precision: { type: 'string', default: 'fp32' },
    batched: { type: 'string' },
    'cuda-graph': { type: 'boolean', default: false },
    churn: { type: 'boolean', default: false },
    'join-graph': { type: 'boolean', default: false },
    static: { type: 'boolean', default: false },
    'static-graph': { type: 'string' },
    batches: { type: 'string', default: '1,8,32,64' },
    codes: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'max-len': { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'string' },
    greedy: { type: 'boolean', default: false },
    'repetition-penalty': { type: 'string' },
    sentences: { type: 'boolean', default: false },
    'batch-addon': { type: 'boolean', default: false },
  },
});

const device = args.device as Device;
// onnxruntime-node's sessions (the comparison path) take no provider options, and CUDA's default TF32
// rounds their fp32 matrix products to 10 bits once a batch is past one row: their codes would then part
// from the addon's (whose sessions set use_tf32=0, below, as the server's do) for TF32's reasons, not the
// step's. Read when CUDA starts.
if (device === 'cuda' && cudaFp32WithoutTf32())
  console.log('native.ts: NVIDIA_TF32_OVERRIDE=0 (fp32 without TF32 in both paths; set it to compare otherwise)');
if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device must be cpu or cuda, got ${device}`);
if (args.sentences && !args.package) throw new Error('--sentences needs --package (its tokenizer)');
const precision = args.precision as string;
const batches = (args.batches as string).split(',').map(Number);
const codes = Number(args.codes);
const runs = Number(args.runs);
for (const [name, v] of [
  ['--codes', codes],
  ['--runs', runs],
  ...batches.map((b) => ['--batches', b] as const),
] as const)
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be whole numbers of at least 1`);

let sizes: GraphSizes;
/** --sentences: each sentence's text ids, [START] ... [STOP], from the package's tokenizer. */
let sentenceIds: number[][] | null = null;
let graphFile: (name: string) => string;
let hasGraph: (name: string) => boolean;
let batchedName = args.batched ?? 'gpt_batch';
if (args.package) {
  const pkg = resolve(args.package);
  const { manifest: m } = await readManifest(pkg);
  sizes = packageGraphSizes(pkg, m);
  if (args.sentences) {
    const tokenizer = VoiceTokenizer.fromJson(readFileSync(join(pkg, m.vocab), 'utf8'));
    // Cut to the model's text positions (the tiny fixture's are fewer than a sentence's tokens).
    sentenceIds = SENTENCES.map((text) => [
      m.tokens.text_start,
      ...tokenizer.encode(text, 'en').slice(0, m.tokens.max_text_tokens - 1),
      m.tokens.text_stop,
    ]);
  }
  const beside = resolve(args.graphs ?? join(pkg, '..', 'batch'));
  if (!args.batched)
    batchedName =
      m.graphs[`gpt_batch_fused_${precision}`] || existsSync(join(beside, `gpt_batch_fused_${precision}.onnx`))
        ? 'gpt_batch_fused'
        : 'gpt_batch';
  hasGraph = (name) =>
    Boolean(m.graphs[`${name}_${precision}`]) || existsSync(join(beside, `${name}_${precision}.onnx`));
  graphFile = (name) => {
    const g = m.graphs[`${name}_${precision}`];
    if (g) return join(pkg, g.file);
    const f = join(beside, `${name}_${precision}.onnx`);
    if (existsSync(f)) return f;
    throw new Error(`${pkg}: the manifest has no graph ${name}_${precision}, and ${f} is not there either`);
  };
} else if (args.dir) {
  const dir = resolve(args.dir);
  if (!existsSync(join(dir, 'sizes.json')))
    throw new Error(`${dir}: no sizes.json (write it with python3 -m xtts.bench.batch_graphs)`);
  sizes = JSON.parse(readFileSync(join(dir, 'sizes.json'), 'utf8')) as GraphSizes;
  graphFile = (name) => join(dir, `${name}_${precision}.onnx`);
  hasGraph = (name) => existsSync(graphFile(name));
} else {
  throw new Error('give --package DIR (e.g. test/fixtures/tiny/package) or --dir GRAPHS');
}

execFileSync('bash', [join(import.meta.dirname, '..', 'native', 'build.sh')], { stdio: 'inherit' });
const available = nativeAvailable();
if (!available.ok) throw new Error(`native addon: ${available.reason}`);

const penalty = args['repetition-penalty'] ? Number(args['repetition-penalty']) : SAMPLING_DEFAULTS.repetition_penalty;
if (!(penalty >= 1))
  throw new Error(`--repetition-penalty must be a number of at least 1, got ${args['repetition-penalty']}`);
const settings: DecodeSettings = args.greedy
  ? { temperature: GREEDY.temperature, topK: GREEDY.top_k, topP: GREEDY.top_p, repetitionPenalty: penalty }
  : {
      temperature: SAMPLING_DEFAULTS.temperature,
      topK: SAMPLING_DEFAULTS.top_k,
      topP: SAMPLING_DEFAULTS.top_p,
      repetitionPenalty: penalty,
    };
const threads = args.threads ? Number(args.threads) : undefined;
const load0 = loadavg()[0] as number;
const ortOpts = { device, ...(threads ? { intraOpThreads: threads } : {}) };
const [prefill, decode, batched] = await Promise.all(
  ['gpt_prefill', 'gpt_decode', batchedName].map((g) => openSession(graphFile(g), ortOpts)),
);
if (!prefill || !decode || !batched) throw new Error('sessions did not open');
const gpt = new Gpt(prefill, decode, { audioStart: sizes.audio_start, audioStop: -1, vocab: sizes.vocab });
// As the server opens them (xtts/package.ts): fp32 without TF32 by the session's own setting.
const nativeOpts = {
  device,
  ...(threads ? { threads } : {}),
  ...(device === 'cuda' ? { providerOptions: { use_tf32: '0' } } : {}),
};
const staticMode = (args.static as boolean) || args['static-graph'] !== undefined;
// The fixed-shape steps to time: as asked, else the one the engine would take.
const staticGraphs = !staticMode
  ? []
  : args['static-graph'] !== undefined
    ? (args['static-graph'] as string).split(',').map((g) => g.trim())
    : [
        ['gpt_step_static_dmmha', 'gpt_step_static_inplace', 'gpt_step_static_fused'].find(hasGraph) ??
          'gpt_step_static',
      ];
for (const g of staticGraphs) {
  if (!/^gpt_step_static(_fused|_inplace|_dmmha|_xattn|_xattn_kv16)?$/.test(g))
    throw new Error(
      `--static-graph: ${g} is not gpt_step_static, gpt_step_static_fused, gpt_step_static_inplace, gpt_step_static_dmmha, gpt_step_static_xattn or gpt_step_static_xattn_kv16`,
    );
  if (!hasGraph(g)) throw new Error(`--static-graph: no ${g}_${precision} here`);
}
if (staticMode)
  console.log(
    `fixed-shape step${staticGraphs.length > 1 ? 's' : ''}: ${staticGraphs.map((g) => `${g}_${precision}`).join(', ')}${args['static-graph'] === undefined ? ' (the fused-operator one when there is one)' : ''}`,
  );
// With --batch-addon the fixed-shape steps are also set beside the batched graph run through the addon (its
// TF32 off by its session setting, not by NVIDIA_TF32_OVERRIDE as onnxruntime-node's): a second reference.
const batchAddon = !staticMode || (args['batch-addon'] as boolean);
const native = batchAddon ? DeviceSession.open(graphFile(batchedName), nativeOpts) : null;
let graphNative: DeviceSession | null = null;
let graphNote = '';
if (args['cuda-graph'] && !staticMode) {
  try {
    graphNative = DeviceSession.open(graphFile(batchedName), { ...nativeOpts, cudaGraph: true });
  } catch (e) {
    graphNote = `--cuda-graph: not possible for ${batchedName}: ${(e as Error).message}`;
    console.log(graphNote);
  }
}

async function prompt(i: number): Promise<GptKvCache> {
  const n = 8 + ((i * 13) % 33);
  const ids = sentenceIds
    ? (sentenceIds[i % sentenceIds.length] as number[])
    : [
        sizes.text_tokens - 1,
        ...Array.from({ length: n }, (_, j) => 3 + ((i * 7 + j * 11) % Math.min(200, sizes.text_tokens - 4))),
        0,
      ];
  const cond = Float32Array.from({ length: sizes.latents * sizes.width }, (_, j) => Math.sin(i + j * 0.37) * 0.5);
  return (await gpt.prefill(cond, [1, sizes.latents, sizes.width], ids)).cache;
}

type Row = {
  batch: number;
  path: string;
  msPerCode: number;
  msPerStep: number;
  positions: number;
  reused: number;
  /** Timed runs packed on the device / in host memory. */
  packs: { device: number; host: number };
};
const churn = args.churn as boolean;
const rows: Row[] = [];
/** A latent difference past which two fp32 paths have parted (their kernels' rounding stays near 1e-5). */
const DEPARTS = 1e-4;
type Departure = { sequence: number; step: number; latentDiff: number; code: boolean };
const agreement: {
  batch: number;
  path: string;
  sameCodes: number;
  of: number;
  latentMaxAbsErr: number;
  departs: Departure | null;
}[] = [];
const now = () => performance.now();

/** One path at batch size b: its first run's results (for the comparison), then the timed runs. */
/** What both decode paths take: sequences joined from a prompt, dropped, decoded in runs. */
type Members = {
  join(cache: GptKvCache): number;
  drop(id: number): void;
  decode(requests: DecodeRequest[]): Promise<Map<number, DecodeResult>>;
};
type DecodeRequest = { id: number; uniforms: Float32Array; settings: DecodeSettings };

/** b members from prompts 0..b-1, and their warm-up run's results by index. */
async function startMembers(driver: Members, b: number) {
  const ids: number[] = [];
  for (let i = 0; i < b; i++) ids.push(driver.join(await prompt(i)));
  const requests = ids.map((id, i) => ({ id, uniforms: new UniformSource(100 + i).peek(codes), settings }));
  const first = await driver.decode(requests);
  const byIndex = new Map(ids.map((id, i) => [i, first.get(id) as DecodeResult]));
  return { ids, requests, byIndex };
}

/** --churn before timed run r: member r % b leaves and a new prompt joins in its place. */
async function churnMember(driver: Members, ids: number[], requests: DecodeRequest[], b: number, r: number) {
  const k = r % b;
  driver.drop(ids[k] as number);
  const id = driver.join(await prompt(b + r));
  ids[k] = id;
  requests[k] = { id, uniforms: new UniformSource(200 + r).peek(codes), settings };
}

async function timePath<S extends KvState>(
  b: number,
  path: string,
  driver: BatchCore<S>,
): Promise<Map<number, DecodeResult>> {
  const { ids, requests, byIndex } = await startMembers(driver, b);
  const packs0 = driver instanceof DeviceBatchedGpt ? { ...driver.packs } : { device: 0, host: 0 };
  let reused = 0;
  let hostPacks = 0;
  let ms = 0;
  for (let r = 0; r < runs; r++) {
    if (churn) await churnMember(driver, ids, requests, b, r);
    const t = now();
    await driver.decode(requests);
    ms += now() - t;
    if (driver.lastStats?.reused) reused++;
    else hostPacks++;
  }
  const packs =
    driver instanceof DeviceBatchedGpt
      ? { device: driver.packs.device - packs0.device, host: driver.packs.host - packs0.host }
      : { device: 0, host: hostPacks };
  rows.push({
    batch: b,
    path,
    msPerCode: ms / (runs * b * codes),
    msPerStep: ms / (runs * codes),
    positions: (driver.lastStats?.positions ?? 0) + (driver.lastStats?.steps ?? 0),
    reused,
    packs,
  });
  for (const id of ids) driver.drop(id);
  if (driver instanceof DeviceBatchedGpt) driver.close();
  const r = rows.at(-1) as Row;
  console.log(`B=${b} ${path}: ${r.msPerCode.toFixed(3)} ms/code, ${r.msPerStep.toFixed(2)} ms/step`);
  return byIndex;
}

/**
 * The fixed-shape step at batch size b: b slots, chunks of `codes` steps, KV room for the longest
 * prompt and every run's codes; its first run's results, then the timed runs (as timePath).
 */
async function timeStatic(
  b: number,
  graph: string,
  path: string,
  cudaGraph: boolean,
): Promise<Map<number, DecodeResult>> {
  // The KV length: --max-len (the server's: every slot holds its longest prompt and code limit, and
  // a step's attention may read all of it), else just room for these runs.
  const need = sizes.latents + 45 + codes * (runs + 2);
  const maxLen = stepMaxLen(args['max-len'] ? Math.max(need, Number(args['max-len'])) : need, graph.includes('dmmha'));
  const driver = StaticGpt.open(
    graphFile(graph),
    { slots: b, maxLen, chunk: codes },
    { ...nativeOpts, cudaGraph, joinByCopy: !args['join-graph'] },
  );
  // The prompts' keys and values moved into the step's device memory first, as a prefill through the addon
  // leaves them in the server (the server's joins then go by copies; --join-graph: by the slot write graph).
  const members: Members = {
    join: (cache) => driver.join(cacheOnDevice(driver.session, cache)),
    drop: (id) => driver.drop(id),
    decode: (requests) => driver.decode(requests),
  };
  try {
    const { ids, requests, byIndex } = await startMembers(members, b);
    let ms = 0;
    let made = 0;
    let steps = 0;
    let joins = 0;
    for (let r = 0; r < runs; r++) {
      if (churn) await churnMember(members, ids, requests, b, r);
      const t = now();
      const out = await driver.decode(requests);
      ms += now() - t;
      for (const x of out.values()) made += x.codes.length;
      steps += driver.lastStats?.steps ?? 0;
      joins += driver.lastStats?.joined ?? 0;
    }
    rows.push({
      batch: b,
      path,
      msPerCode: ms / Math.max(1, made),
      msPerStep: ms / Math.max(1, steps),
      positions: Math.max(...ids.map((id) => driver.length(id))),
      reused: runs,
      packs: { device: joins, host: 0 },
    });
    const row = rows.at(-1) as Row;
    console.log(`B=${b} ${path}: ${row.msPerCode.toFixed(3)} ms/code, ${row.msPerStep.toFixed(2)} ms/step`);
    return byIndex;
  } finally {
    await driver.close();
  }
}

const ortPath = `onnxruntime-node (${batchedName}, state through host memory)`;
const nativePath = `addon, state on the device${device === 'cpu' ? ' (CPU memory here)' : ''}`;
const staticPath = (graph: string) =>
  `addon, fixed-shape step in place (${graph})${device === 'cpu' ? ' (CPU memory here)' : ''}`;
/** Paths that failed at some B (noted, not fatal: the others are still timed). */
const failedPaths: string[] = [];
for (const b of batches) {
  // onnxruntime-node's batched graph is the reference for the agreement; where it cannot run (fp32 at
  // B = 64: its Loop's Concat makes a larger cache every step, which exhausts even an H200), the other
  // paths are still timed and the failure is noted instead of ending the bench.
  const results: [string, Map<number, DecodeResult>][] = [];
  for (const graph of staticGraphs) {
    try {
      results.push([staticPath(graph), await timeStatic(b, graph, staticPath(graph), false)]);
    } catch (e) {
      failedPaths.push(`B=${b} ${staticPath(graph)}: failed (${(e as Error).message.split('\n')[0]?.slice(-300)})`);
      console.log(failedPaths.at(-1));
    }
    if (args['cuda-graph']) {
      const path = `${staticPath(graph)}, CUDA graph`;
      try {
        results.push([path, await timeStatic(b, graph, path, true)]);
      } catch (e) {
        graphNote = `--cuda-graph (${graph}): ${(e as Error).message}`;
        console.log(graphNote);
      }
    }
  }
  if (batchAddon) {
    const paths: [string, DeviceSession][] = [[nativePath, native as DeviceSession]];
    if (graphNative) paths.push([`${nativePath}, CUDA graph`, graphNative]);
    for (const [path, s] of paths)
      results.push([path, await timePath(b, path, new DeviceBatchedGpt(s, { audioStop: -1 }))]);
  }
  // After the other paths: a failed run leaves its session's arena holding the memory it took.
  let base: Map<number, DecodeResult> | null = null;
  try {
    base = await timePath(b, ortPath, new BatchedGpt(batched, { audioStop: -1 }));
  } catch (e) {
    failedPaths.push(`B=${b} ${ortPath}: failed (${(e as Error).message.split('\n')[0]?.slice(-300)})`);
    console.log(failedPaths.at(-1));
  }
  for (const [path, got] of base ? results : []) {
    let same = 0;
    let err = 0;
    // Where the paths first part (a code, or a latent more than DEPARTS apart), over every sequence: the
    // step tells a prompt's pass or join (0) from a chunk's bound (a multiple of --codes) or one step.
    let departs: Departure | null = null;
    for (const [i, w] of base as Map<number, DecodeResult>) {
      const g = got.get(i) as DecodeResult;
      // The fixed-shape step stops at the model's stop code: its codes against as many of the others'.
      const n = staticMode ? g.codes.length : w.codes.length;
      const width = sizes.width;
      for (let j = 0; j < Math.min(n, w.codes.length); j++) {
        let d = 0;
        for (let k = j * width; k < (j + 1) * width; k++)
          d = Math.max(d, Math.abs((w.latents[k] as number) - (g.latents[k] as number)));
        const code = g.codes[j] !== w.codes[j];
        if (code || d > DEPARTS) {
          if (!departs || j < departs.step) departs = { sequence: i, step: j, latentDiff: d, code };
          break;
        }
      }
      if (g.codes.length === n && g.codes.every((c, j) => c === w.codes[j])) {
        same++;
        for (let j = 0; j < n * sizes.width; j++)
          err = Math.max(err, Math.abs((w.latents[j] as number) - (g.latents[j] as number)));
      }
    }
    agreement.push({ batch: b, path, sameCodes: same, of: b, latentMaxAbsErr: err, departs });
  }
}

const load1 = loadavg()[0] as number;
console.log(
  `\n${sizes.size} (${sizes.layers} layers, width ${sizes.width}), ${batchedName}_${precision}${staticGraphs.map((g) => ` and ${g}_${precision}`).join('')}, ${device}, onnxruntime ${available.ortVersion}, runs of ${codes} codes x ${runs} after a warm-up run${churn ? ', one member replaced before each' : ''}${args.greedy ? `, greedy (top_k 1), repetition penalty ${penalty}` : ''}; load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}`,
);
if (graphNote) console.log(graphNote);
for (const n of failedPaths) console.log(n);
console.log(`host-device copies: ${nativeCopyPath()}`);
console.log(
  '| B | path | ms per code (throughput) | ms per step (per stream) | runs feeding the state back | runs packing on the device / in host memory | KV positions at the end |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.batch} | ${r.path} | ${r.msPerCode.toFixed(3)} | ${r.msPerStep.toFixed(2)} | ${r.reused}/${runs} | ${r.packs.device} / ${r.packs.host} | ${r.positions} |`,
  );
console.log('\nwarm-up run of each path from the same prompts and uniforms, against onnxruntime-node:');
for (const a of agreement)
  console.log(
    `B=${a.batch} ${a.path}: ${a.sameCodes}/${a.of} sequences with identical codes; their latents max abs difference ${a.latentMaxAbsErr.toExponential(2)}${
      a.departs
        ? `; first parts at code ${a.departs.step} of sequence ${a.departs.sequence} (${a.departs.code ? 'another code' : `latents ${a.departs.latentDiff.toExponential(2)} apart`})`
        : `; never more than ${DEPARTS} apart`
    }`,
  );
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify(
      {
        sizes,
        device,
        precision,
        batched: batchedName,
        codes,
        runs,
        churn,
        static: staticMode,
        staticGraphs,
        load: [load0, load1],
        graphNote,
        failedPaths,
        rows,
        agreement,
      },
      null,
      1,
    ),
  );
native?.release();
graphNative?.release();
await Promise.all([prefill.release(), decode.release(), batched.release()]);
