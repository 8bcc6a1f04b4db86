/**
 * Inference benchmark for the tiny and the full-size random-weight model packages:
 * load time, voice (conditioning) time, ms per decode step (Loop runs of 20 and of 100 codes:
 * the first is the streaming run, and the gap between them is what moving the KV cache in and
 * out of each run costs), real-time factor, time to first audio chunk.
 *
 *   node inference/bench/bench.ts [--device cpu|cuda] [--precision fp32,int8|fp16|...] [--only tiny|full]
 *                                 [--codes N] [--threads N] [--rounds N] [--no-agreement | --agreement-only]
 *                                 [--interleaved] [--torch] [--ort KEY=VALUE ...]
 *                                 [--vocoder fp32|int8] [--chunk N] [--growth G]
 *                                 [--json OUT.json] [--python PYTHON_WITH_TORCH]
 *
 * Each precision (the GPT graphs' variant; default fp32,int8 on CPU, the package's default on CUDA)
 * runs in its own process, so its resident memory is its own, and the precisions alternate for
 * --rounds rounds (default 2; figures are medians over rounds): on a shared, loaded machine both
 * see the same load, and the ratio to fp32 is the figure to trust. With more than one precision,
 * the bench then compares each variant with fp32 on fixed inputs (agreement.ts: top-1 agreement
 * and logit error teacher-forced on fp32's greedy codes, where greedy codes first diverge, and
 * the rendered audio of the same codes: log-mel distance and speaker-embedding cosine).
 *
 * The tiny package is the one in test/fixtures (no PyTorch needed; its int8 variant is made once under
 * .data/bench/ with the trainer's python3 -m xtts.export.quantize, which needs the onnxruntime package). The full-size package is
 * built on first use under .data/bench/ with the trainer's exporter (python3 with torch and
 * onnx); without torch it is left out, with a line saying so. --torch also times the PyTorch
 * modules on the same device in the same run (python3 -m xtts.bench.bench_torch, see the trainer), so
 * GPU figures sit beside their baseline.
 *
 * --vocoder int8: the quantized rows use the package's int8 HiFi-GAN (hifigan_int8, added with
 * xtts.export.quantize --vocoder-only where missing), and the agreement also compares it with fp32's
 * HiFi-GAN. --chunk / --growth: the streamed chunks' first size and growth (default: the engine's).
 *
 * `npm run bench:cpu` is the CPU acceptance run: the full-size package, fp32 and int8 (with the int8
 * HiFi-GAN, the variant that is real time on a 2-core CPU) in the same run, printing ms per code, streamed RTF, first chunk, resident memory and top-1 agreement, with the
 * load average at start and end (figures from a loaded machine are the load's, not the machine's).
 * Each row also says where the whole render's and the stream's time went: GPT runs (prefill and
 * decode runs), HiFi-GAN calls, and the rest, in wall and CPU time (CPU time of this process, all
 * threads: on a loaded machine it moves less with the load than wall time does).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pythonBinary } from '../../trainer/index.ts';
import { encodeWav } from '../audio/wav.ts';
import { UniformSource } from '../xtts/generate.ts';
import { hasManifest, peekManifest } from '../xtts/manifest.ts';
import { CPU_SESSION, PRECISIONS, type Precision, QUANTIZED } from '../xtts/package.ts';
import { Xtts, type XttsOptions } from '../xtts/xtts.ts';
import { compareVariants } from './agreement.ts';

const root = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    precision: { type: 'string' },
    only: { type: 'string' },
    codes: { type: 'string', default: '100' },
    threads: { type: 'string' },
    /** onnxruntime session configuration entries for the CPU sessions, KEY=VALUE (repeatable). */
    ort: { type: 'string', multiple: true },
    torch: { type: 'boolean', default: false },
    json: { type: 'string' },
    python: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    /** Streamed chunks: codes in the first, and the growth of later ones (default: the engine's). */
    chunk: { type: 'string' },
    growth: { type: 'string' },
    /** HiFi-GAN of the quantized rows: fp32 (default, as the engine) or int8 (the package's hifigan_int8). */
    vocoder: { type: 'string' },
    'no-agreement': { type: 'boolean', default: false },
    'agreement-only': { type: 'boolean', default: false },
    interleaved: { type: 'boolean', default: false },
    /** Internal: run one package at one precision and print its row as JSON (see runChild). */
    child: { type: 'string' },
  },
});
const device = args.device === 'cuda' ? 'cuda' : 'cpu';
const precisions: (Precision | undefined)[] = (args.precision ?? (device === 'cpu' ? 'fp32,int8' : ''))
  .split(',')
  .filter(Boolean)
  .map((p) => {
    if (!(PRECISIONS as readonly string[]).includes(p)) {
      console.error(`--precision: ${p} is not one of ${PRECISIONS.join(', ')}`);
      process.exit(2);
    }
    return p as Precision;
  });
if (precisions.length === 0) precisions.push(undefined);
// --ort session.intra_op.allow_spinning=0 and the like: onnxruntime settings to try against the defaults.
const ortConfig: Record<string, string> = {};
for (const kv of args.ort ?? []) {
  const at = kv.indexOf('=');
  if (at <= 0) {
    console.error(`--ort: ${kv} is not KEY=VALUE`);
    process.exit(2);
  }
  ortConfig[kv.slice(0, at)] = kv.slice(at + 1);
}
const sessionOptions: XttsOptions = {
  ...(args.threads ? { intraOpThreads: Number(args.threads) } : {}),
  ...(args.ort?.length ? { cpuSession: { ...CPU_SESSION, config: ortConfig } } : {}),
};
const codes = Number(args.codes);
if (args.vocoder !== undefined && args.vocoder !== 'fp32' && args.vocoder !== 'int8') {
  console.error(`--vocoder: ${args.vocoder} is not fp32 or int8`);
  process.exit(2);
}
/** HiFi-GAN of the quantized rows; the fp32 row keeps the fp32 HiFi-GAN (the reference). */
const vocoderFor = (p: Precision | undefined): 'int8' | undefined =>
  args.vocoder === 'int8' && p !== undefined && QUANTIZED.includes(p) ? 'int8' : undefined;
// The interpreter with torch: --python, else PYTHON, else Debian's /usr/bin/python3 (see trainer).
const python = args.python ?? pythonBinary();
// The int8 and int4 variants of a package is made once by the trainer's quantizer (python with onnx and
// onnxruntime). By default it is measured where it exists or can be made, and left out with a line
// saying why elsewhere, so the fp32 figures need no Python at all; asked for by --precision, its
// absence is an error.
for (const q of QUANTIZED.filter((p) => !args.child && precisions.includes(p))) {
  const quantized = (pkg: string) => `gpt_decode_${q}` in ((peekManifest(pkg)?.graphs as object | undefined) ?? {});
  const dirs = { tiny: `tiny-${q}-pkg`, full: 'full-pkg' };
  const kinds: ('tiny' | 'full')[] = args.only === 'tiny' || args.only === 'full' ? [args.only] : ['tiny', 'full'];
  const ready = kinds.every((k) => quantized(join(root, '.data', 'bench', dirs[k])));
  if (!ready && spawnSync(python, ['-c', 'import onnx, onnxruntime'], { stdio: 'ignore' }).status !== 0) {
    const why = `its GPT graphs are made by python3 -m xtts.export.quantize, which needs onnx and onnxruntime in ${python} (npm run setup:python)`;
    if (args.precision) {
      console.error(`${q}: ${why}`);
      process.exit(1);
    }
    console.log(`${q}: not measured: ${why}`);
    precisions.splice(precisions.indexOf(q), 1);
  }
}

function run(cmd: string, argv: string[], cwd: string): string {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.error?.message ?? ''}`);
  return r.stdout;
}

/** The tiny package the tests use: ready in the repository, so the tiny bench needs no PyTorch. */
const fixturePackage = join(root, 'test', 'fixtures', 'tiny', 'package');

const exportedPackage = (kind: 'tiny' | 'full') => join(root, '.data', 'bench', `${kind}-pkg`);

/** Whether the interpreter can import torch (the exporter needs it for the full-size package). */
const hasTorch = () => spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** Builds (once) the random-weight model folder with the trainer's script (python3 with torch). */
function ensureModel(kind: 'tiny' | 'full'): string {
  const model = join(root, '.data', 'bench', `${kind}-model`);
  if (!existsSync(join(model, 'config.json'))) {
    console.error(`building the ${kind} random-weight model in ${model}`);
    run(python, ['-m', 'xtts.fixtures.tiny', kind, model], join(root, 'trainer'));
  }
  return model;
}

/**
 * The package to time: the tiny one from the test fixtures; the full-size one exported once under
 * .data/bench/ with the trainer's exporter (python3 with torch and onnx).
 */
function ensurePackage(kind: 'tiny' | 'full', precision?: Precision): string {
  let pkg = exportedPackage(kind);
  if (kind === 'tiny' && hasManifest(fixturePackage)) {
    if (!precision || !QUANTIZED.includes(precision)) return fixturePackage;
    pkg = join(root, '.data', 'bench', `tiny-${precision}-pkg`);
    if (!hasManifest(pkg)) cpSync(fixturePackage, pkg, { recursive: true });
  }
  if (!hasManifest(pkg)) {
    const model = ensureModel(kind);
    console.error(`exporting ${model} to ${pkg} (the full-size export takes minutes)`);
    run(python, ['-m', 'xtts.export', model, pkg, '--device', device], join(root, 'trainer'));
  }
  const graphs = (peekManifest(pkg)?.graphs ?? {}) as Record<string, unknown>;
  if (precision && QUANTIZED.includes(precision) && !graphs[`gpt_decode_${precision}`]) {
    console.error(`adding the ${precision} GPT graphs to ${pkg}`);
    run(python, ['-m', 'xtts.export.quantize', pkg, '--precision', precision], join(root, 'trainer'));
  }
  if (vocoderFor(precision) && !(peekManifest(pkg)?.graphs as Record<string, unknown> | undefined)?.hifigan_int8) {
    console.error(`adding HiFi-GAN's int8 graph to ${pkg}`);
    run(python, ['-m', 'xtts.export.quantize', pkg, '--vocoder-only'], join(root, 'trainer'));
  }
  return pkg;
}

const ms = (t0: number) => performance.now() - t0;
/** CPU time of this process so far (user + system, all threads), ms. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Wall and CPU ms spent inside one kind of session run, and how many runs. */
type RunTimes = { ms: number; cpuMs: number; runs: number };
const noRuns = (): RunTimes => ({ ms: 0, cpuMs: 0, runs: 0 });

/**
 * Times every run() of the GPT sessions and of HiFi-GAN's into `into.gpt` / `into.hifigan`. The
 * shared int8 graph's prefill goes through decodeSession; separate graphs' through prefillSession.
 */
function timeSessions(x: Xtts, into: { gpt: RunTimes; hifigan: RunTimes }): void {
  const wrap = (s: { run: (feeds: never) => Promise<unknown> }, acc: () => RunTimes) => {
    const run = s.run.bind(s);
    s.run = async (feeds: never) => {
      const t0 = performance.now();
      const c0 = cpuMs();
      try {
        return await run(feeds);
      } finally {
        const a = acc();
        a.ms += ms(t0);
        a.cpuMs += cpuMs() - c0;
        a.runs++;
      }
    };
  };
  const gpt = new Set([x.gpt.decodeSession, x.gpt.prefillSession]);
  for (const s of gpt) wrap(s as never, () => into.gpt);
  wrap(x.hifigan.session as never, () => into.hifigan);
}

/**
 * Where a render's or a stream's time went: GPT runs, HiFi-GAN calls, the rest; and the minor page
 * faults meanwhile (sessions run without a memory arena, so every large tensor a run allocates,
 * the KV cache above all, is fresh memory the kernel maps page by page).
 */
type Breakdown = { ms: number; cpuMs: number; pageFaults: number; gpt: RunTimes; hifigan: RunTimes };
const pageFaults = () => process.resourceUsage().minorPageFault;

async function timed(into: { gpt: RunTimes; hifigan: RunTimes }, f: () => Promise<void>): Promise<Breakdown> {
  into.gpt = noRuns();
  into.hifigan = noRuns();
  const t0 = performance.now();
  const c0 = cpuMs();
  const f0 = pageFaults();
  await f();
  const b = { ms: ms(t0), cpuMs: cpuMs() - c0, pageFaults: pageFaults() - f0, gpt: into.gpt, hifigan: into.hifigan };
  // Runs after this one count elsewhere.
  into.gpt = noRuns();
  into.hifigan = noRuns();
  return b;
}

function describeBreakdown(b: Breakdown): string {
  const f = (v: number) => v.toFixed(0);
  const rest = b.ms - b.gpt.ms - b.hifigan.ms;
  return (
    `${f(b.ms)} ms (CPU ${f(b.cpuMs)}): GPT ${f(b.gpt.ms)} ms in ${b.gpt.runs} runs (CPU ${f(b.gpt.cpuMs)}), ` +
    `HiFi-GAN ${f(b.hifigan.ms)} ms in ${b.hifigan.runs} calls (CPU ${f(b.hifigan.cpuMs)}), rest ${f(rest)} ms, ` +
    `${b.pageFaults} page faults`
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;

/** A 6 s voice-like reference clip: the fixture's when present, else a synthetic one. */
function referenceClip(): Uint8Array {
  const fixture = join(root, 'test', 'fixtures', 'tiny', 'ref.wav');
  if (existsSync(fixture)) return readFileSync(fixture);
  const sr = 22050;
  const x = Float32Array.from({ length: 6 * sr }, (_, i) => {
    const t = i / sr;
    return 0.3 * Math.sin(2 * Math.PI * (140 + 20 * Math.sin(3 * t)) * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t));
  });
  return encodeWav(x, sr);
}

async function decodeMsPerCode(
  x: Xtts,
  voice: Awaited<ReturnType<Xtts['computeVoice']>>,
  runCodes: number,
  total: number,
) {
  const ids = x.sentenceIds('Hello, world! This is a test.', 'en')[0] as number[];
  const { cache } = await x.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
  const rng = new UniformSource(1);
  const p = x.params({});
  const settings = { temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty };
  const times: number[] = [];
  let made = 0;
  let kvBytes = 0;
  while (made < total) {
    const t0 = performance.now();
    const r = await x.gpt.decode(cache, rng.peek(Math.min(runCodes, total - made)), settings);
    times.push(ms(t0) / Math.max(1, r.codes.length));
    rng.advance(r.codes.length);
    made += r.codes.length;
    kvBytes = cache.bytes;
    if (r.codes.at(-1) === x.gpt.stopCode) break;
  }
  cache.dispose();
  return { msPerCode: median(times), codes: made, kvMiB: kvBytes / 2 ** 20 };
}

async function benchPackage(kind: 'tiny' | 'full', precision: Precision | undefined) {
  const pkg = ensurePackage(kind, precision);
  const opts: XttsOptions = {
    device,
    ...(precision ? { precision } : {}),
    ...sessionOptions,
    maxAudioCodes: codes,
    ...(vocoderFor(precision) ? { vocoderPrecision: 'int8' as const } : {}),
    ...(args.chunk ? { streamChunkCodes: Number(args.chunk) } : {}),
    ...(args.growth ? { streamChunkGrowth: Number(args.growth) } : {}),
    // Random weights never stop on their own: cap the sentence so every run makes the same audio length.
  };
  let t0 = performance.now();
  const x = await Xtts.load(pkg, opts);
  const loadMs = ms(t0);
  const clip = referenceClip();
  await x.computeVoice([clip]); // warm-up
  t0 = performance.now();
  const voice = await x.computeVoice([clip]);
  const voiceMs = ms(t0);
  await decodeMsPerCode(x, voice, 20, 20); // warm-up
  const total = x.options.maxAudioCodes;
  const run20 = await decodeMsPerCode(x, voice, 20, total);
  const run100 = await decodeMsPerCode(x, voice, 100, total);
  const req = { text: 'Hello, world! This is a test.', language: 'en', voice, params: { seed: 1 } };
  const runs = { gpt: noRuns(), hifigan: noRuns() };
  timeSessions(x, runs);
  let rendered: Awaited<ReturnType<Xtts['render']>> | undefined;
  const renderBreakdown = await timed(runs, async () => {
    rendered = await x.render(req);
  });
  if (!rendered) throw new Error('render returned nothing');
  const renderMs = renderBreakdown.ms;
  const audioS = rendered.samples.length / rendered.sampleRate;
  let ttfa = Number.NaN;
  let streamed = 0;
  let chunks = 0;
  const streamBreakdown = await timed(runs, async () => {
    const s0 = performance.now();
    for await (const c of x.stream(req)) {
      if (Number.isNaN(ttfa)) ttfa = ms(s0);
      streamed += c.samples.length;
      chunks++;
    }
  });
  const streamMs = streamBreakdown.ms;
  // The same stream in chunks of streamChunkCodes throughout (growth 1, as streams were cut before
  // later chunks grew), in the same process: its cost beside the default schedule's.
  const growth = x.options.streamChunkGrowth;
  x.options.streamChunkGrowth = 1;
  let flatChunks = 0;
  const flatStreamBreakdown = await timed(runs, async () => {
    for await (const _ of x.stream(req)) flatChunks++;
  });
  x.options.streamChunkGrowth = growth;
  // Again: what every later request sees, once shapes and kernels are warm.
  t0 = performance.now();
  let ttfaWarm = Number.NaN;
  for await (const _ of x.stream(req)) {
    if (Number.isNaN(ttfaWarm)) ttfaWarm = ms(t0);
  }
  // Resident memory while the package is open and has served: what a server holds for it; and the
  // most this process held so far (loading, rendering and streaming included).
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  const peakServingRssMiB = process.resourceUsage().maxRSS / 1024;
  await x.release();
  // Most of a full-size load is hashing ~3 GB against the manifest; without it, session creation only.
  t0 = performance.now();
  const unverified = await Xtts.load(pkg, { ...opts, verify: false });
  const loadUnverifiedMs = ms(t0);
  await unverified.release();
  const row = {
    package: kind,
    device,
    precision: x.pkg.precision,
    loadMs,
    loadUnverifiedMs,
    voiceMs,
    msPerCodeRun20: run20.msPerCode,
    msPerCodeRun100: run100.msPerCode,
    kvMiBAtEnd: run100.kvMiB,
    codes: rendered.codes[0]?.length ?? 0,
    audioSeconds: audioS,
    rtfRender: renderMs / 1000 / audioS,
    rtfStream: streamMs / 1000 / (streamed / rendered.sampleRate),
    firstChunkMs: ttfa,
    firstChunkWarmMs: ttfaWarm,
    streamChunks: chunks,
    rtfStreamFlat: flatStreamBreakdown.ms / 1000 / (streamed / rendered.sampleRate),
    flatStreamChunks: flatChunks,
    streamChunkCodes: x.options.streamChunkCodes,
    renderBreakdown,
    streamBreakdown,
    flatStreamBreakdown,
    rssMiB,
    peakServingRssMiB,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    graphMiB: x.bytes / 2 ** 20,
    torch: args.torch ? torchBaseline(ensureModel(kind)) : undefined,
  };
  return row;
}

/** The PyTorch modules on the same device, timed by the trainer's script (prints one JSON object). */
function torchBaseline(model: string): unknown {
  if (!existsSync(join(root, 'trainer', 'xtts', 'bench', 'bench_torch.py')))
    return 'not measured: trainer/xtts/bench/bench_torch.py missing';
  try {
    const out = run(
      python,
      ['-m', 'xtts.bench.bench_torch', model, '--device', device, '--codes', String(codes)],
      join(root, 'trainer'),
    );
    return JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
  } catch (e) {
    return `failed: ${(e as Error).message}`;
  }
}

type Row = Awaited<ReturnType<typeof benchPackage>>;

/** One package at one precision in a fresh process: its memory is its own. */
function runChild(kind: 'tiny' | 'full', precision: Precision | undefined): Row {
  const argv = [import.meta.filename, '--child', kind, '--device', device, '--codes', String(codes)];
  if (precision) argv.push('--precision', precision);
  if (args.threads) argv.push('--threads', args.threads);
  if (args.chunk) argv.push('--chunk', args.chunk);
  if (args.vocoder) argv.push('--vocoder', args.vocoder);
  if (args.growth) argv.push('--growth', args.growth);
  for (const kv of args.ort ?? []) argv.push('--ort', kv);
  if (args.torch) argv.push('--torch');
  if (args.python) argv.push('--python', args.python);
  const out = run(process.execPath, argv, root);
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Row;
}

/** Per numeric field, the median over rounds; other fields from the first round. */
function medianRow(rs: Row[]): Row {
  const first = rs[0] as Row;
  const out: Record<string, unknown> = { ...first, rounds: rs.length };
  for (const [k, v] of Object.entries(first)) {
    if (typeof v === 'number') out[k] = median(rs.map((r) => (r as Record<string, unknown>)[k] as number));
  }
  return out as Row;
}

/**
 * --interleaved: every precision's package open in this one process, decode runs of 20 codes taken
 * in turn (fp32, int8, fp32, ...), so on a busy machine each precision sees the same load; prints
 * ms per code (median over runs) and the ratio to the first precision. No load, render or memory
 * figures: those need a process per precision (the default mode).
 */
async function interleaved(kind: 'tiny' | 'full', runs: number) {
  const xs: { p: Precision | undefined; x: Xtts; times: number[] }[] = [];
  for (const p of precisions) {
    const x = await Xtts.load(ensurePackage(kind, p), {
      device,
      ...(p ? { precision: p } : {}),
      ...sessionOptions,
      verify: false,
      warmUp: false,
    });
    xs.push({ p, x, times: [] });
  }
  const clip = referenceClip();
  const voice = await (xs[0] as (typeof xs)[number]).x.computeVoice([clip]);
  for (const e of xs) await decodeMsPerCode(e.x, voice, 20, 20); // warm-up
  for (let r = 0; r < runs; r++) {
    for (const e of r % 2 === 0 ? xs : [...xs].reverse()) {
      e.times.push((await decodeMsPerCode(e.x, voice, 20, 20)).msPerCode);
    }
  }
  const first = median((xs[0] as (typeof xs)[number]).times);
  for (const e of xs) {
    const m = median(e.times);
    console.log(
      `${kind.padEnd(4)} ${device}/${e.x.pkg.precision} interleaved: decode ${m.toFixed(2)} ms/code (median of ${runs} runs of 20, ` +
        `range ${Math.min(...e.times).toFixed(1)}-${Math.max(...e.times).toFixed(1)}), ${(m / first).toFixed(2)}x ${xs[0]?.x.pkg.precision}'s time`,
    );
    await e.x.release();
  }
}

/** The 1, 5 and 15 minute load averages: figures taken on a loaded machine are not the machine's. */
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
const loadAtStart = load();
if (!args.child) console.log(`load average at start: ${loadAtStart} (1/5/15 min, ${availableParallelism()} cores)`);

if (args.interleaved) {
  for (const kind of ['tiny', 'full'] as const) {
    if (args.only && args.only !== kind) continue;
    await interleaved(kind, Math.max(1, Number(args.rounds)));
  }
  console.log(`load average at end: ${load()}`);
  process.exit(0);
}

if (args.child) {
  const kind = args.child === 'full' ? 'full' : 'tiny';
  const row = await benchPackage(kind, precisions[0]);
  // Also kept as each run ends, so a long full-size bench that is stopped keeps what it measured.
  appendFileSync(
    join(root, '.data', 'bench', 'rows.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), ...row })}\n`,
  );
  console.log(JSON.stringify(row));
  process.exit(0);
}

const rows: Row[] = [];
const agreements: unknown[] = [];
const rounds = Math.max(1, Number(args.rounds));
for (const kind of ['tiny', 'full'] as const) {
  if (args.only && args.only !== kind) continue;
  const needsTorch = args.torch || (kind === 'full' && !hasManifest(exportedPackage(kind)));
  if (needsTorch && !hasTorch()) {
    const why = `needs PyTorch in ${python} (npm run setup:python makes the project's environment)`;
    if (args.only === kind || args.torch) {
      console.error(`${kind}: ${args.torch ? '--torch ' : ''}${why}`);
      process.exit(1);
    }
    console.log(`full: not measured: the full-size package is exported on first use, which ${why}`);
    continue;
  }
  for (const p of precisions) ensurePackage(kind, p);
  const byPrecision = new Map<Precision | undefined, Row[]>();
  for (let r = 0; r < (args['agreement-only'] ? 0 : rounds); r++) {
    // Alternate the order too, so neither precision always runs first after the other.
    const order = r % 2 === 0 ? precisions : [...precisions].reverse();
    for (const p of order) byPrecision.set(p, [...(byPrecision.get(p) ?? []), runChild(kind, p)]);
  }
  const f = (v: number, d = 1) => v.toFixed(d);
  const base = byPrecision.has('fp32') ? medianRow(byPrecision.get('fp32') as Row[]) : undefined;
  for (const p of args['agreement-only'] ? [] : precisions) {
    const row = medianRow(byPrecision.get(p) as Row[]);
    rows.push(row);
    const vs =
      base && p !== 'fp32'
        ? ` [decode ${f(row.msPerCodeRun20 / base.msPerCodeRun20, 2)}x fp32's time, RSS ${f(row.rssMiB / base.rssMiB, 2)}x]`
        : '';
    console.log(
      `${kind.padEnd(4)} ${row.device}/${row.precision}${vocoderFor(row.precision) ? '+hifigan_int8' : ''}: load ${f(row.loadMs, 0)} ms (${f(row.loadUnverifiedMs, 0)} without sha256), voice ${f(row.voiceMs, 0)} ms, ` +
        `decode ${f(row.msPerCodeRun20, 2)} ms/code (runs of 20) ${f(row.msPerCodeRun100, 2)} ms/code (runs of 100), ` +
        `RTF ${f(row.rtfRender, 3)} whole / ${f(row.rtfStream, 3)} streamed (${row.codes} codes, ${f(row.audioSeconds, 2)} s), ` +
        `first chunk ${f(row.firstChunkMs, 0)} ms (then ${f(row.firstChunkWarmMs, 0)} ms), ` +
        `RSS ${f(row.rssMiB, 0)} MiB after serving (peak ${f(row.peakServingRssMiB, 0)} up to then; graphs ${f(row.graphMiB, 0)} MiB), median of ${rounds}${vs}`,
    );
    // Breakdowns are of the first round (per-round figures are in .data/bench/rows.jsonl).
    console.log(`     whole render: ${describeBreakdown(row.renderBreakdown)}`);
    console.log(`     stream (${row.streamChunks} chunks): ${describeBreakdown(row.streamBreakdown)}`);
    console.log(
      `     stream in chunks of ${row.streamChunkCodes} codes throughout (${row.flatStreamChunks} chunks, RTF ${f(row.rtfStreamFlat, 3)}): ${describeBreakdown(row.flatStreamBreakdown)}`,
    );
    if (row.torch !== undefined) console.log(`     PyTorch same device: ${JSON.stringify(row.torch)}`);
  }
  if (!args['no-agreement'] && precisions.includes('fp32')) {
    for (const p of precisions) {
      if (p === 'fp32' || p === undefined) continue;
      const a = await compareVariants(ensurePackage(kind, 'fp32'), ensurePackage(kind, p), {
        reference: 'fp32',
        variant: p,
        ...(vocoderFor(p) ? { variantVocoder: 'int8' as const } : {}),
        device,
        ...sessionOptions,
      });
      agreements.push({ package: kind, ...a });
      console.log(`${kind.padEnd(4)} ${p} vs fp32: ${a.summary}`);
    }
  }
}
const loadAtEnd = load();
console.log(`load average at end: ${loadAtEnd}`);
if (args.json) writeFileSync(args.json, JSON.stringify({ loadAtStart, loadAtEnd, rows, agreements }, null, 1));
