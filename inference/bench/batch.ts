/**
 * Batched decode against today's batch-1 decode: ms per code when B sequences are served by one
 * worker, (a) one after another through the batch-1 Loop graph (gpt_decode), and (b) together in one
 * run of the batched graph (gpt_batch, BatchedGpt).
 *
 *   node inference/bench/batch.ts [--dir GRAPHS | --package DIR] [--device cpu|cuda] [--precision fp32|fp16]
 *                                 [--batched gpt_batch_fused] [--batches 1,4,16] [--codes N] [--runs N] [--threads N]
 *                                 [--json OUT]
 *
 * GRAPHS holds gpt_prefill_*, gpt_decode_*, gpt_batch_* (or the graph --batched names, e.g.
 * gpt_batch_fused_*, the step from onnxruntime's fused operators) and sizes.json, as the trainer's
 * `python3 -m xtts.bench.batch_graphs OUT_DIR --size tiny|small|full [--fp16]` writes them (default
 * .data/bench/batch-small, made on first use with --size small, which needs python3 with torch).
 * --package DIR takes the graphs and sizes from a model package's manifest instead (one with its own
 * gpt_prefill/gpt_decode and batched graph, as `xtts.export --batch` writes it); --batched then
 * defaults to the graph the engine would pick (gpt_batch_fused_<precision>, else gpt_batch_<precision>).
 *
 * Every sequence gets its own prompt length (text of 8 to 40 tokens, so the batch is padded as in
 * service) and the release's sampling settings; the stop code is fed as -1 so every run does its
 * whole N codes. The first (warm-up) run of each path starts from the same prompts with the same uniforms,
 * so their codes are compared: how many sequences got identical codes, where the first one diverged,
 * and the largest latent difference before that. Each batch size is timed over --runs runs of --codes codes after one warm-up run:
 * `ms/code` is wall time over all codes produced (what one worker's throughput is), `ms/step` is wall
 * time over the Loop iterations of a run (what one stream waits per code).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SAMPLING_DEFAULTS } from '../generation/config.ts';
import { type Device, openSession } from '../runtime/index.ts';
import { BatchedGpt } from '../xtts/batch.ts';
import { UniformSource } from '../xtts/generate.ts';
import { type DecodeResult, type DecodeSettings, Gpt, type GptKvCache } from '../xtts/gpt.ts';
import { readManifest } from '../xtts/manifest.ts';
import { type GraphSizes, packageGraphSizes } from './graph-sizes.ts';

const root = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    package: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    precision: { type: 'string', default: 'fp32' },
    batched: { type: 'string' },
    batches: { type: 'string', default: '1,4,16' },
    codes: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});

const precision = args.precision as string;
let sizes: GraphSizes;
/** The graph file of each name (gpt_prefill, gpt_decode, the batched one). */
let graphFile: (name: string) => string;
let batchedName = args.batched ?? 'gpt_batch';
if (args.package) {
  const pkg = resolve(args.package);
  const { manifest: m } = await readManifest(pkg);
  sizes = packageGraphSizes(pkg, m);
  if (!args.batched) batchedName = m.graphs[`gpt_batch_fused_${precision}`] ? 'gpt_batch_fused' : 'gpt_batch';
  graphFile = (name) => {
    const g = m.graphs[`${name}_${precision}`];
    if (!g) throw new Error(`${pkg}: the manifest has no graph ${name}_${precision}`);
    return join(pkg, g.file);
  };
} else {
  const dir = resolve(args.dir ?? join(root, '.data', 'bench', 'batch-small'));
  if (!existsSync(join(dir, 'sizes.json'))) {
    if (args.dir) throw new Error(`${dir}: no sizes.json (write it with python3 -m xtts.bench.batch_graphs)`);
    console.log(`building ${dir} (python3 -m xtts.bench.batch_graphs --size small --fp16)`);
    const { pythonBinary } = await import('../../trainer/index.ts');
    execFileSync(pythonBinary(), ['-W', 'ignore', '-m', 'xtts.bench.batch_graphs', dir, '--size', 'small', '--fp16'], {
      cwd: join(root, 'trainer'),
      stdio: 'inherit',
    });
  }
  sizes = JSON.parse(readFileSync(join(dir, 'sizes.json'), 'utf8')) as GraphSizes;
  graphFile = (name) => join(dir, `${name}_${precision}.onnx`);
}
const device = args.device as Device;
const batches = (args.batches as string).split(',').map(Number);
const codes = Number(args.codes);
const runs = Number(args.runs);
const opts = { device, ...(args.threads ? { intraOpThreads: Number(args.threads) } : {}) };
const settings: DecodeSettings = {
  temperature: SAMPLING_DEFAULTS.temperature,
  topK: SAMPLING_DEFAULTS.top_k,
  topP: SAMPLING_DEFAULTS.top_p,
  repetitionPenalty: SAMPLING_DEFAULTS.repetition_penalty,
};

const load0 = loadavg()[0] as number;
const [prefill, decode, batched] = await Promise.all(
  ['gpt_prefill', 'gpt_decode', batchedName].map((g) => openSession(graphFile(g), opts)),
);
if (!prefill || !decode || !batched) throw new Error('sessions did not open');
const gpt = new Gpt(prefill, decode, { audioStart: sizes.audio_start, audioStop: -1, vocab: sizes.vocab });

async function prompt(i: number): Promise<GptKvCache> {
  const n = 8 + ((i * 13) % 33);
  const ids = [
    sizes.text_tokens - 1,
    ...Array.from({ length: n }, (_, j) => 3 + ((i * 7 + j * 11) % Math.min(200, sizes.text_tokens - 4))),
    0,
  ];
  const cond = Float32Array.from({ length: sizes.latents * sizes.width }, (_, j) => Math.sin(i + j * 0.37) * 0.5);
  return (await gpt.prefill(cond, [1, sizes.latents, sizes.width], ids)).cache;
}

type Row = { batch: number; mode: string; msPerCode: number; msPerStep: number; positions: number };
const rows: Row[] = [];
const agreement: {
  batch: number;
  sameCodes: number;
  of: number;
  firstDivergence: number | null;
  latentMaxAbsErr: number;
}[] = [];
const now = () => performance.now();

for (const b of batches) {
  // (a) today's path: the B sequences one after another, runs of `codes` each.
  const caches = await Promise.all(Array.from({ length: b }, (_, i) => prompt(i)));
  const rngs = caches.map((_, i) => new UniformSource(100 + i));
  const first: DecodeResult[] = [];
  for (const [i, c] of caches.entries())
    first.push(await gpt.decode(c, (rngs[i] as UniformSource).peek(codes), settings));
  let t = now();
  for (let r = 0; r < runs; r++)
    for (const [i, c] of caches.entries()) await gpt.decode(c, (rngs[i] as UniformSource).peek(codes), settings);
  let ms = now() - t;
  const positions = Math.max(...caches.map((c) => c.length));
  rows.push({
    batch: b,
    mode: 'batch-1 graph, in turn',
    msPerCode: ms / (runs * b * codes),
    msPerStep: ms / (runs * codes),
    positions,
  });
  for (const c of caches) c.dispose();

  // (b) the batched graph: all B in each run.
  const group = new BatchedGpt(batched, { audioStop: -1 });
  const ids = [];
  for (let i = 0; i < b; i++) ids.push(group.join(await prompt(i)));
  const requests = ids.map((id, i) => ({ id, uniforms: new UniformSource(100 + i).peek(codes), settings }));
  const firstBatched = await group.decode(requests);
  // The first runs of both paths start from the same prompts with the same uniforms: same codes expected.
  let same = 0;
  let latentErr = 0;
  let diverge = Number.POSITIVE_INFINITY;
  ids.forEach((id, i) => {
    const a = first[i] as DecodeResult;
    const r = firstBatched.get(id) as DecodeResult;
    const k = a.codes.findIndex((c, j) => c !== r.codes[j]);
    if (k < 0 && a.codes.length === r.codes.length) same++;
    else diverge = Math.min(diverge, k < 0 ? Math.min(a.codes.length, r.codes.length) : k);
    const n = Math.min(a.codes.length, r.codes.length, k < 0 ? codes : k) * a.width;
    for (let j = 0; j < n; j++)
      latentErr = Math.max(latentErr, Math.abs((a.latents[j] as number) - (r.latents[j] as number)));
  });
  agreement.push({
    batch: b,
    sameCodes: same,
    of: b,
    firstDivergence: Number.isFinite(diverge) ? diverge : null,
    latentMaxAbsErr: latentErr,
  });
  t = now();
  for (let r = 0; r < runs; r++) await group.decode(requests);
  ms = now() - t;
  rows.push({
    batch: b,
    mode: `batched graph (${batchedName})`,
    msPerCode: ms / (runs * b * codes),
    msPerStep: ms / (runs * codes),
    positions: (group.lastStats?.positions ?? 0) + (group.lastStats?.steps ?? 0),
  });
  for (const id of ids) group.drop(id);
  console.log(
    rows
      .slice(-2)
      .map((r) => `B=${r.batch} ${r.mode}: ${r.msPerCode.toFixed(2)} ms/code, ${r.msPerStep.toFixed(2)} ms/step`)
      .join('\n'),
  );
}

const load1 = loadavg()[0] as number;
console.log(
  `\n${sizes.size} (${sizes.layers} layers, width ${sizes.width}), ${precision}, ${device}, runs of ${codes} codes x ${runs}; load average ${load0.toFixed(2)} -> ${load1.toFixed(2)}`,
);
console.log('| B | path | ms per code (throughput) | ms per step (per stream) | KV positions at the end |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(`| ${r.batch} | ${r.mode} | ${r.msPerCode.toFixed(2)} | ${r.msPerStep.toFixed(2)} | ${r.positions} |`);
console.log(
  '\nfirst run of each path from the same prompts and uniforms (codes before the first divergence compared for latents):',
);
for (const a of agreement)
  console.log(
    `B=${a.batch}: ${a.sameCodes}/${a.of} sequences with identical codes${a.firstDivergence === null ? '' : `, first divergence at code ${a.firstDivergence}`}; latents max abs error ${a.latentMaxAbsErr.toExponential(2)}`,
  );
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify({ sizes, device, precision, codes, runs, load: [load0, load1], rows, agreement }, null, 1),
  );
await Promise.all([prefill.release(), decode.release(), batched.release()]);
