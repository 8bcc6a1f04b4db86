/**
 * The serving figures of one device in one run (`npm run bench:gpu`):
 *
 *   1. ms per code at batch 1, 8, 32, 64 for the batched decode graph and the batch-1 graph
 *      (inference/bench/batch.ts on the package's graphs); 1b. the same for the fixed-shape step through
 *      the native addon (inference/bench/native.ts; with its CUDA graph on CUDA), what the server decodes
 *      with under INFERENCE_NATIVE, and whether its codes are onnxruntime-node's;
 *   2. the real server (api/server.ts in a process of its own, a temporary DATA_DIR and embedded
 *      database, MODEL_DIR holding the package, the batched graph on): for each concurrency C, C
 *      clients each send --rounds streamed raw-PCM `/v1/tts` requests one after another (distinct
 *      seeds and sentences), so C requests are in flight for the whole level; aggregate seconds of
 *      audio per wall second, time to first audio byte p50/p95, non-200 answers and failures;
 *   3. peak GPU memory during each level (nvidia-smi, the busiest GPU), and the server's peak RSS;
 *   4. PyTorch eager ms per code on the same sentences (trainer/xtts/bench/bench_torch.py, --torch-model);
 *   5. the weight-bandwidth floor: bytes of the decode graph in use / --bandwidth-gbs, per code.
 *
 *   npm run bench:gpu -- --package DIR [--device cuda|cpu] [--precision fp32|fp16] [--graphs DIR]
 *                        [--batches 1,8,32,64] [--codes N] [--runs N] [--concurrency 1,8,32,64]
 *                        [--rounds N] [--streams N] [--torch-model DIR] [--bandwidth-gbs 4800] [--json OUT]
 *                        [--sections 1,1b,2,4] [--server-only] [--whole N] [--voices N]   (which sections run;
 *                        --server-only: 2 and 3 alone, the server under the INFERENCE_* settings it inherits)
 *
 * --voices N: the requests take turns over N voices (request i the voice i mod N), each made from the
 * reference clip with its first 5 × k ms cut (voice k), so that each has conditioning of its own: a
 * burst of many voices against one of a single voice (1, the default), for what the engine keeps per
 * voice (INFERENCE_PREFIX_CACHE).
 *
 * The package must be a base package. Its batched graph is the one the engine takes
 * (gpt_batch_fused_<precision>, else gpt_batch_<precision>, from its manifest); a package without
 * one gets the graphs of --graphs DIR (default: a `batch` folder beside the package, as the tiny
 * fixture has) added to a linked copy, listed in the copy's manifest as `xtts.export --batch` would.
 * INFERENCE_STREAMS and INFERENCE_BATCH_MAX are C at each level, or --streams.
 * Every child process is killed at the end, also on an error or Ctrl-C.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { childEnv, loadConfig } from '../../infra/index.ts';
import { decodeAudio } from '../audio/decode.ts';
import { encodeWav } from '../audio/wav.ts';
import { nativeAvailable } from '../native/index.ts';
import { openSession } from '../runtime/index.ts';
import { MANIFEST_FILE, type Manifest, readManifest } from '../xtts/manifest.ts';
import { staticSizes } from '../xtts/package.ts';
import { SENTENCES } from './sentences.ts';

const root = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    package: { type: 'string' },
    graphs: { type: 'string' },
    device: { type: 'string', default: 'cuda' },
    precision: { type: 'string', default: 'fp32' },
    batches: { type: 'string', default: '1,8,32,64' },
    codes: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,8,32,64' },
    rounds: { type: 'string', default: '3' },
    streams: { type: 'string' },
    'torch-model': { type: 'string' },
    'torch-sentences': { type: 'string', default: '3' },
    'server-only': { type: 'boolean', default: false },
    sections: { type: 'string', default: '1,1b,2,4' },
    python: { type: 'string' },
    'bandwidth-gbs': { type: 'string', default: '4800' },
    'start-timeout-s': { type: 'string', default: '300' },
    'request-timeout-s': { type: 'string', default: '300' },
    'step-timeout-s': { type: 'string', default: '1800' },
    json: { type: 'string' },
    whole: { type: 'string', default: '2' },
    voices: { type: 'string', default: '1' },
  },
});

const device = args.device as 'cpu' | 'cuda';
const precision = args.precision as string;
const list = (s: string) => s.split(',').map((x) => Number(x.trim()));
const batches = list(args.batches as string);
const levels = list(args.concurrency as string);
const rounds = Number(args.rounds);
const voiceCount = Number(args.voices);
const runs = Number(args.runs);
const bandwidth = Number(args['bandwidth-gbs']);
const startTimeoutMs = Number(args['start-timeout-s']) * 1000;
const requestTimeoutMs = Number(args['request-timeout-s']) * 1000;
const stepTimeoutMs = Number(args['step-timeout-s']) * 1000;
// The server's text and code caps (it inherits INFERENCE_MAX_TEXT_TOKENS and INFERENCE_MAX_AUDIO_CODES), which size its fixed-shape step.
const { maxTextTokens, maxAudioCodes } = loadConfig().inference;
if (!args.package) {
  console.error('bench:gpu: --package DIR is required (a base model package, e.g. test/fixtures/tiny/package)');
  process.exit(2);
}
if ([...batches, ...levels, rounds, runs, voiceCount].some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('bench:gpu: --batches, --concurrency, --rounds, --runs and --voices take positive integers');
  process.exit(2);
}

// Every child is tracked and killed at the end, however the run ends.
const children = new Set<ChildProcess>();
const temp = mkdtempSync(join(tmpdir(), 'xtts-bench-gpu-'));
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(temp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    console.error(`bench:gpu: ${sig}, stopping the children`);
    cleanup();
    process.exit(130);
  });

type ChildResult = { code: number | null; signal: string | null; stdout: string; stderr: string; timedOut: boolean };
/** Runs a child to its end (or kills it after timeoutMs); stdout/stderr echoed when `echo`. */
function runChild(
  cmd: string,
  argv: string[],
  opts: { cwd?: string; timeoutMs: number; echo: boolean; env?: Record<string, string> },
): Promise<ChildResult> {
  return new Promise((done) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? root,
      env: childEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (e) => {
      stderr += String(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      done({ code, signal, stdout, stderr, timedOut });
    });
  });
}
const why = (r: ChildResult, s: number) => {
  if (r.timedOut) return `killed after ${s} s`;
  const lines = (r.stderr || r.stdout).trim().split('\n');
  const error = lines.filter((l) => /Error|error:/.test(l)).at(-1) ?? lines.slice(-3).join(' | ');
  return `exit ${r.code ?? r.signal}: ${error.slice(0, 500)}`;
};

// ---- the package, with its batched graph where the engine finds it ----
const source = resolve(args.package);
const sourceManifest = (await readManifest(source)).manifest;
if (sourceManifest.kind !== 'base') {
  console.error(`bench:gpu: ${source} is a ${sourceManifest.kind} package; give a base package`);
  process.exit(2);
}
const batchNames = [`gpt_batch_fused_${precision}`, `gpt_batch_${precision}`];
// The fixed-shape steps the server prefers through the native addon (INFERENCE_NATIVE), listed with them.
const stepNames = [
  `gpt_step_static_dmmha_${precision}`,
  `gpt_step_static_inplace_${precision}`,
  `gpt_step_static_fused_${precision}`,
  `gpt_step_static_${precision}`,
];
const name = basename(source);
const modelDir = join(temp, 'models');
mkdirSync(modelDir);
const pkg = join(modelDir, name);
// MODEL_DIR holds a folder of links to the package's files (the server lists folders, not links to
// them); its manifest is the package's, or one that also lists the batched graphs added from --graphs.
mkdirSync(pkg);
for (const f of readdirSync(source)) if (f !== MANIFEST_FILE) symlinkSync(join(source, f), join(pkg, f));
let graphNote: string;
const own = batchNames.find((g) => sourceManifest.graphs[g]);
if (own) {
  symlinkSync(join(source, MANIFEST_FILE), join(pkg, MANIFEST_FILE));
  graphNote = `the package's own ${own}`;
} else {
  const graphs = resolve(args.graphs ?? join(source, '..', 'batch'));
  const found = existsSync(graphs)
    ? [...batchNames, ...stepNames, 'hifigan_batch'].filter((g) => existsSync(join(graphs, `${g}.onnx`)))
    : [];
  if (found.length === 0) {
    symlinkSync(join(source, MANIFEST_FILE), join(pkg, MANIFEST_FILE));
    graphNote = `none: ${source} has no ${batchNames.join(' or ')} and ${graphs} none either; the batched-graph rows are skipped, the server decodes its streams with the batch-1 graph`;
  } else {
    // Listed in the manifest as xtts.export --batch lists them (files beside them linked too: weights).
    const m = structuredClone(sourceManifest);
    for (const f of readdirSync(graphs))
      if (!existsSync(join(pkg, f)) && !f.endsWith('.json')) symlinkSync(join(graphs, f), join(pkg, f));
    for (const g of found) {
      const file = `${g}.onnx`;
      const bytes = readFileSync(join(graphs, file));
      const s = await openSession(join(graphs, file));
      m.graphs[g] = {
        file,
        inputs: s.inputs,
        outputs: s.outputs,
        ...(g.startsWith('gpt_') ? { precision } : {}),
      } as Manifest['graphs'][string];
      m.files[file] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
      await s.release();
    }
    writeFileSync(join(pkg, MANIFEST_FILE), JSON.stringify(m, null, 1));
    graphNote = `${found[0]} from ${graphs} (added to the package's manifest in a linked copy)`;
  }
}
const manifest = (await readManifest(pkg)).manifest;
const batchGraph = batchNames.find((g) => manifest.graphs[g]) ?? null;
const outputRate = manifest.sample_rates.output;
const codes = Math.min(Number(args.codes), manifest.tokens.max_audio_codes - 1);
if (codes < Number(args.codes))
  console.log(
    `--codes ${args.codes} is more than this package's ${manifest.tokens.max_audio_codes} codes a sentence: ${codes}`,
  );

// ---- machine ----
const smi = (query: string): Promise<string[] | string> =>
  new Promise((done) =>
    execFile('nvidia-smi', [`--query-gpu=${query}`, '--format=csv,noheader,nounits'], { timeout: 5000 }, (e, out) =>
      done(
        e
          ? `nvidia-smi ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `failed (${e.message.split('\n')[0]})`}`
          : out.trim().split('\n'),
      ),
    ),
  );
const gpuNames = await smi('name');
const hasSmi = Array.isArray(gpuNames);
const cpuName = `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores)`;
const deviceName = device === 'cuda' && hasSmi ? (gpuNames[0] as string) : cpuName;
if (!hasSmi) console.log(`GPU memory: ${gpuNames}; the server's RSS is reported instead`);
const load0 = loadavg() as number[];
const started = new Date();
console.log(
  `bench:gpu ${started.toISOString()} on ${deviceName}, ${device}, ${precision}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`,
);
console.log(`package ${source}; batched graph: ${graphNote}\n`);

const result: Record<string, unknown> = {
  date: started.toISOString(),
  device,
  deviceName,
  cpu: cpuName,
  precision,
  package: source,
  batchGraph,
};

/**
 * Runs inference/bench/<script> on the package with this run's device, precision, batches and runs (and
 * `extra`), echoing its output; its --json result, or why it failed.
 */
async function benchChild<J>(script: string, extra: string[]): Promise<{ json: J } | { failed: string }> {
  const out = join(temp, `${script}.json`);
  const r = await runChild(
    process.execPath,
    [
      join(root, 'inference', 'bench', script),
      '--package',
      pkg,
      '--device',
      device,
      '--precision',
      precision,
      '--batches',
      batches.join(','),
      '--runs',
      String(runs),
      ...extra,
      '--json',
      out,
    ],
    { timeoutMs: stepTimeoutMs, echo: true },
  );
  return r.code === 0 && existsSync(out)
    ? { json: JSON.parse(readFileSync(out, 'utf8')) as J }
    : { failed: `FAILED: ${why(r, stepTimeoutMs / 1000)}` };
}

// ---- 1. ms per code, batched graph vs batch-1 graph ----
type BatchRow = { batch: number; mode: string; msPerCode: number; msPerStep: number };
let batchRows: BatchRow[] = [];
let batchNote = '';
let batchCodesRun = codes;
const sections = new Set(args['server-only'] ? ['2'] : (args.sections as string).split(',').map((x) => x.trim()));
const skipped = (section: string) => (sections.has(section) ? '' : `skipped: not in --sections`);
if (skipped('1')) batchNote = skipped('1');
else if (!batchGraph) batchNote = 'skipped: no batched graph';
else {
  // batch.ts decodes each sequence's warm-up run and its --runs runs one after another on one cache:
  // all of them must fit the package's audio positions.
  const batchCodes = Math.min(codes, Math.floor((manifest.tokens.max_audio_codes - 1) / (runs + 1)));
  batchCodesRun = batchCodes;
  if (batchCodes < codes)
    console.log(
      `batch.ts: runs of ${batchCodes} codes (${runs} runs and a warm-up on one cache fit this package's ${manifest.tokens.max_audio_codes} audio positions)`,
    );
  console.log(
    `## 1. ms per code, inference/bench/batch.ts, B = ${batches.join(', ')}, runs of ${batchCodes} codes x ${runs}`,
  );
  const r = await benchChild<{ rows: BatchRow[] }>('batch.ts', ['--codes', String(batchCodes)]);
  if ('json' in r) batchRows = r.json.rows;
  else {
    batchNote = r.failed;
    console.log(`batch bench ${batchNote}`);
  }
}
result.batch = { rows: batchRows, note: batchNote || undefined, codes: batchCodesRun, runs };

// ---- 1b. the fixed-shape step through the native addon: what the server decodes with INFERENCE_NATIVE ----
type StepRow = { batch: number; path: string; msPerCode: number; msPerStep: number };
type StepAgreement = { batch: number; path: string; sameCodes: number; of: number; latentMaxAbsErr: number };
let stepRows: StepRow[] = [];
let stepAgreement: StepAgreement[] = [];
let stepNote = '';
const steps = stepNames.filter((g) => manifest.graphs[g]).map((g) => g.slice(0, -`_${precision}`.length));
const addon = nativeAvailable();
if (skipped('1b')) stepNote = skipped('1b');
else if (steps.length === 0) stepNote = `skipped: no ${stepNames.join(' or ')} in the package`;
else if (!addon.ok) stepNote = `skipped: the native addon is unavailable (${addon.reason})`;
else {
  console.log(
    `\n## 1b. ms per code, the fixed-shape step through the native addon${device === 'cuda' ? ' with its CUDA graph' : ''} (inference/bench/native.ts), B = ${batches.join(', ')}`,
  );
  const r = await benchChild<{ rows: StepRow[]; agreement: StepAgreement[] }>('native.ts', [
    '--graphs',
    pkg,
    '--codes',
    String(batchCodesRun),
    // The step the server takes (the first the package has, in the engine's order), and the next one
    // (the dmmha step's baseline: the in-place step over every column).
    '--static-graph',
    steps.slice(0, 2).join(','),
    // The KV length the server's step holds (staticSizes: the longest prompt and the code limit).
    '--max-len',
    String(staticSizes(manifest, {}, maxTextTokens, maxAudioCodes).maxLen),
    ...(device === 'cuda' ? ['--cuda-graph'] : []),
  ]);
  if ('json' in r) {
    stepRows = r.json.rows;
    stepAgreement = r.json.agreement;
  } else {
    stepNote = r.failed;
    console.log(`fixed-shape step bench ${stepNote}`);
  }
}
result.static = { rows: stepRows, agreement: stepAgreement, note: stepNote || undefined };

// ---- 2 and 3. the real server under C concurrent streams ----
type Level = {
  concurrency: number;
  streams: number;
  /** Voices the requests took turns over (--voices). */
  voices: number;
  requests: number;
  ok: number;
  non200: Record<string, number>;
  failures: number;
  failureSamples: string[];
  audioSeconds: number;
  wallSeconds: number;
  audioPerWall: number;
  ttfaP50Ms: number | null;
  ttfaP95Ms: number | null;
  peakGpuMiB: number | null;
  idleGpuMiB: number | null;
  peakRssMiB: number | null;
  /** Event-loop delay during the level, ms (p50, p99, max): the server's main thread (its /metrics), this client's. */
  loopDelayMs?: { server: LoopDelay | null; client: LoopDelay };
  note?: string;
};
type LoopDelay = { p50: number; p99: number; max: number };
const levelsOut: Level[] = [];

/**
 * The server's main-thread event-loop delay since its /metrics was last read (prom-client's
 * nodejs_eventloop_lag_* gauges, from a monitorEventLoopDelay histogram it resets at every read), in ms.
 */
async function serverLoopDelay(url: string): Promise<LoopDelay | null> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const ms = (name: string) => {
      const m = new RegExp(`^nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) * 1000 : Number.NaN;
    };
    return { p50: ms('p50'), p99: ms('p99'), max: ms('max') };
  } catch {
    return null;
  }
}
/** Requests of the whole-utterance path at C = 1 (--whole), one after another, after the streamed ones. */
const wholeRequests = Number(args.whole);
/** GPT codes per second of output audio (a code is 1024 samples at 22.05 kHz). */
const codesPerSecond = 22050 / 1024;
let wholeOut: {
  requests: number;
  ok: number;
  audioSeconds: number;
  wallSeconds: number;
  msPerCode: number | null;
  firstByteP50Ms: number | null;
} | null = null;
const dataDir = join(temp, 'data');
mkdirSync(dataDir);
const clip = join(root, 'test', 'fixtures', 'tiny', 'ref.wav');
const baseEnv: Record<string, string> = {
  DATA_DIR: dataDir,
  MODEL_DIR: modelDir,
  DATABASE_URL: '',
  PORT: '0',
  LOG_LEVEL: 'warn',
  INFERENCE_DEVICE: device,
  INFERENCE_PRECISION: precision,
  INFERENCE_WORKERS: '1',
  INFERENCE_BATCH_GRAPH: '1',
};
let token: string | null = null;
/** Request i's voice (--voices). */
const voiceName = (i: number) => (voiceCount === 1 ? 'bench-gpu' : `bench-gpu-${i % voiceCount}`);

/** The reference clip's bytes, and its samples (decoded once, for the voices after the first). */
let clipBytes: Uint8Array<ArrayBuffer> | null = null;
let clipDecoded: ReturnType<typeof decodeAudio> | null = null;
/** Voice k's clip: the reference clip with its first 5 × k ms cut, as a 16-bit WAV. */
async function voiceClip(k: number): Promise<Uint8Array<ArrayBuffer>> {
  clipBytes ??= new Uint8Array(readFileSync(clip));
  if (k === 0) return clipBytes;
  clipDecoded ??= decodeAudio(clipBytes);
  const { samples, sampleRate } = await clipDecoded;
  return new Uint8Array(encodeWav(samples.subarray(Math.round((sampleRate * 5 * k) / 1000)), sampleRate));
}

/**
 * A warning or error the server logged (pino JSON: its message and the error's, if any), so that a
 * request that fails mid-stream says why in the bench's own output.
 */
function serverLogLine(line: string): string {
  try {
    const j = JSON.parse(line) as { msg?: string; err?: { message?: string; code?: string }; code?: string };
    const err = j.err
      ? ` (${j.err.code ? `${j.err.code}: ` : ''}${j.err.message ?? ''})`
      : j.code
        ? ` (${j.code})`
        : '';
    return `${j.msg ?? ''}${err}`.slice(0, 500);
  } catch {
    return line.trim().slice(0, 500);
  }
}

/** Starts the server; resolves with its URL, or rejects with its output (exit or timeout). */
function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(root, 'api', 'server.ts')], {
    cwd: root,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('close', () => children.delete(child));
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`no "listening on" within ${startTimeoutMs / 1000} s:\n${out.slice(-2000)}`));
    }, startTimeoutMs);
    let listening = false;
    let partial = '';
    const onData = (d: Buffer) => {
      if (listening) {
        // The engine's lines from then on (INFERENCE_PROFILE's times and memory), as they come.
        const lines = (partial + d).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes('inference:')) console.log(`  server: ${line.trim()}`);
          else if (/"level":\s*(40|50|60)\b/.test(line)) console.log(`  server log: ${serverLogLine(line)}`);
        }
        return;
      }
      out += d;
      if (out.length > 100_000) out = out.slice(-50_000);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        listening = true;
        clearTimeout(timer);
        // The engine's own account of its decode path (INFERENCE_NATIVE), for the record.
        for (const line of out.split('\n')) if (line.includes('inference:')) console.log(`  server: ${line.trim()}`);
        ok({ url: m[1], child });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`exited (${code ?? signal}) before listening:\n${out.slice(-2000)}`));
    });
  });
}
async function stopServer(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((ok) => child.once('close', ok));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

type Answer = {
  status: number;
  ttfaMs: number | null;
  bytes: number;
  wallMs?: number;
  error?: string;
  /** The server's Server-Timing header: where its part of the time to first audio went. */
  timing?: Record<string, number>;
  /** When the response's headers came (ms after the request was sent). */
  headersMs?: number;
  /**
   * A listener's wait after the first audio (ms): playing from the first byte on, the time the audio
   * received so far had run out before more came (0: every chunk came before the one before had played).
   */
  stallMs?: number;
};
/** `a;dur=1.5, b;dur=2` → { a: 1.5, b: 2 }. */
function parseServerTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of (header ?? '').split(',')) {
    const m = /^\s*([\w-]+);dur=([\d.]+)\s*$/.exec(e);
    if (m) out[m[1] as string] = Number(m[2]);
  }
  return out;
}
async function speak(url: string, i: number, stream = true): Promise<Answer> {
  const t0 = performance.now();
  let status = 0;
  let bytes = 0;
  let ttfaMs: number | null = null;
  try {
    const r = await fetch(`${url}/v1/tts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        text: SENTENCES[i % SENTENCES.length],
        voice: voiceName(i),
        language: 'en',
        format: 'pcm',
        stream,
        seed: 1000 + i,
      }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const headersMs = performance.now() - t0;
    status = r.status;
    if (r.status !== 200) return { status, ttfaMs, bytes, error: `${r.status} ${(await r.text()).slice(0, 200)}` };
    if (!r.body) return { status, ttfaMs, bytes, error: 'no body' };
    const timing = parseServerTiming(r.headers.get('server-timing'));
    // When the audio received so far ends playing (16-bit mono PCM at the output rate).
    let playedOutAt = 0;
    let stallMs = 0;
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      if (chunk.byteLength === 0) continue;
      const now = performance.now();
      if (ttfaMs === null) {
        ttfaMs = now - t0;
        playedOutAt = now;
      }
      if (now > playedOutAt) {
        stallMs += now - playedOutAt;
        playedOutAt = now;
      }
      playedOutAt += (chunk.byteLength / 2 / outputRate) * 1000;
      bytes += chunk.byteLength;
    }
    if (bytes === 0) return { status, ttfaMs, bytes, error: '200 without audio' };
    // The first chunk's own arrival is not a stall.
    return {
      status,
      ttfaMs,
      bytes,
      wallMs: performance.now() - t0,
      timing,
      headersMs,
      stallMs: Math.max(0, stallMs),
    };
  } catch (e) {
    return { status, ttfaMs, bytes, error: `${status ? `${status}, then ` : ''}${(e as Error).message}` };
  }
}

const rssMiB = (pid: number | undefined): number | null => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
};
const gpuUsedMiB = async (): Promise<number | null> => {
  const r = await smi('memory.used');
  return Array.isArray(r) ? Math.max(...r.map(Number)) : null;
};
const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
};

console.log(
  `\n## 2. the server (api/server.ts), streamed /v1/tts pcm, ${rounds} request(s) per client per level, INFERENCE_BATCH_GRAPH=1${skipped('2') ? `: ${skipped('2')}` : ''}`,
);
for (const c of skipped('2') ? [] : levels) {
  const streams = args.streams ? Number(args.streams) : c;
  const level: Level = {
    concurrency: c,
    streams,
    voices: voiceCount,
    requests: c * rounds,
    ok: 0,
    non200: {},
    failures: 0,
    failureSamples: [],
    audioSeconds: 0,
    wallSeconds: 0,
    audioPerWall: 0,
    ttfaP50Ms: null,
    ttfaP95Ms: null,
    peakGpuMiB: null,
    idleGpuMiB: null,
    peakRssMiB: null,
  };
  levelsOut.push(level);
  level.idleGpuMiB = hasSmi ? await gpuUsedMiB() : null;
  let server: { url: string; child: ChildProcess };
  try {
    server = await startServer({
      ...baseEnv,
      INFERENCE_STREAMS: String(streams),
      INFERENCE_BATCH_MAX: String(streams),
      INFERENCE_QUEUE: String(Math.max(16, c)),
    });
  } catch (e) {
    level.note = `server did not start: ${(e as Error).message}`;
    level.failures = level.requests;
    console.log(`C=${c}: FAILED, ${level.note}`);
    continue;
  }
  let stage = 'admin key and voice';
  try {
    if (!token) {
      const r = await runChild(
        process.execPath,
        [join(root, 'api', 'cli', 'keys.ts'), 'create', '--scope', 'admin', '--name', 'bench-gpu'],
        { timeoutMs: 60_000, echo: false, env: baseEnv },
      );
      token = /(xvs_\S+)/.exec(r.stdout)?.[1] ?? null;
      if (!token) throw new Error(`admin key not created (npm run keys -- create): ${why(r, 60)}`);
      for (let k = 0; k < voiceCount; k++) {
        const form = new FormData();
        form.set('name', voiceName(k));
        form.set('language', 'en');
        form.set('clips', new Blob([await voiceClip(k)], { type: 'audio/wav' }), 'ref.wav');
        const v = await fetch(`${server.url}/v1/voices`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: form,
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        if (v.status !== 201) throw new Error(`voice ${k} from ${clip} not created: ${v.status} ${await v.text()}`);
      }
    }
    // One request first, not counted: the package loads and the sessions warm up.
    stage = 'load';
    const warm = await speak(server.url, 10_000 + c);
    if (warm.error) console.log(`C=${c}: warm-up request FAILED: ${warm.error}`);
    const pid = server.child.pid;
    level.peakRssMiB = rssMiB(pid);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const rss = rssMiB(pid);
        if (rss !== null) level.peakRssMiB = Math.max(level.peakRssMiB ?? 0, rss);
        if (hasSmi) {
          const g = await gpuUsedMiB();
          if (g !== null) level.peakGpuMiB = Math.max(level.peakGpuMiB ?? 0, g);
        }
        await new Promise((ok) => setTimeout(ok, 250));
      }
    })();
    const answers: Answer[] = [];
    // Where a client's time to first audio goes beyond the server's own first-audio time: each event
    // loop's delay over the level (the server's read from its /metrics, which this first read resets).
    await serverLoopDelay(server.url);
    const clientLoop = monitorEventLoopDelay({ resolution: 10 });
    clientLoop.enable();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async (_, client) => {
        for (let r = 0; r < rounds; r++) answers.push(await speak(server.url, client * rounds + r));
      }),
    );
    level.wallSeconds = (performance.now() - t0) / 1000;
    clientLoop.disable();
    level.loopDelayMs = {
      server: await serverLoopDelay(server.url),
      client: {
        p50: clientLoop.percentile(50) / 1e6,
        p99: clientLoop.percentile(99) / 1e6,
        max: clientLoop.max / 1e6,
      },
    };
    sampling = false;
    await sampler;
    for (const a of answers) {
      level.audioSeconds += a.bytes / 2 / outputRate;
      if (a.status === 200 && !a.error) level.ok++;
      else if (a.status !== 200 && a.status !== 0)
        level.non200[String(a.status)] = (level.non200[String(a.status)] ?? 0) + 1;
      else level.failures++;
      if (a.error && level.failureSamples.length < 3) level.failureSamples.push(a.error);
    }
    const ttfa = answers.filter((a) => !a.error && a.ttfaMs !== null).map((a) => a.ttfaMs as number);
    level.ttfaP50Ms = quantile(ttfa, 0.5);
    level.ttfaP95Ms = quantile(ttfa, 0.95);
    level.audioPerWall = level.audioSeconds / level.wallSeconds;
    const bad = Object.values(level.non200).reduce((a, b) => a + b, 0);
    console.log(
      `C=${c} (streams ${streams}${voiceCount > 1 ? `, ${voiceCount} voices` : ''}): ${level.ok}/${level.requests} ok, non-200 ${bad} ${JSON.stringify(level.non200)}, failures ${level.failures}; ` +
        `${level.audioSeconds.toFixed(1)} s of audio in ${level.wallSeconds.toFixed(1)} s = ${level.audioPerWall.toFixed(2)} audio s per wall s; ` +
        `TTFA p50 ${level.ttfaP50Ms?.toFixed(0) ?? '-'} ms, p95 ${level.ttfaP95Ms?.toFixed(0) ?? '-'} ms; ` +
        `peak GPU ${level.peakGpuMiB ?? '-'} MiB (idle ${level.idleGpuMiB ?? '-'}), server RSS peak ${level.peakRssMiB?.toFixed(0) ?? '-'} MiB`,
    );
    // The server's share of the time to first audio, part by part (its Server-Timing header); the rest
    // of a client's TTFA is the network, the HTTP layers and the first bytes' way to the client.
    const parts = [...new Set(answers.flatMap((a) => Object.keys(a.timing ?? {})))];
    if (parts.length)
      console.log(
        `  server timing (p50 / p95 ms): ${parts
          .map((k) => {
            const xs = answers
              .filter((a) => !a.error && a.timing?.[k] !== undefined)
              .map((a) => a.timing?.[k] as number);
            return `${k} ${quantile(xs, 0.5)?.toFixed(1) ?? '-'} / ${quantile(xs, 0.95)?.toFixed(1) ?? '-'}`;
          })
          .join(', ')}`,
      );
    // Per request, the client's time to first audio less the server's parts, in two: until the response's
    // headers came (the request's way in before the server's clock starts, and the headers' way out), and
    // from them to the first audio byte (the server's main thread, HTTP and the network on the way out).
    const timed = answers.filter(
      (a) => !a.error && a.ttfaMs !== null && a.headersMs !== undefined && a.timing && Object.keys(a.timing).length,
    );
    const serverPart = (a: Answer) => Object.values(a.timing ?? {}).reduce((x, y) => x + y, 0);
    const spread = (xs: number[]) =>
      `${quantile(xs, 0.5)?.toFixed(1)} / ${quantile(xs, 0.95)?.toFixed(1)} / ${Math.max(...xs).toFixed(1)}`;
    if (timed.length)
      console.log(
        `  client TTFA less the server's parts (p50 / p95 / max ms): ${spread(timed.map((a) => (a.ttfaMs as number) - serverPart(a)))}; ` +
          `of which until the headers ${spread(timed.map((a) => (a.headersMs as number) - serverPart(a)))}, ` +
          `then to the first audio byte ${spread(timed.map((a) => (a.ttfaMs as number) - (a.headersMs as number)))}`,
      );
    const loop = level.loopDelayMs;
    const lag = (d: LoopDelay | null | undefined) =>
      d ? `${d.p50.toFixed(1)} / ${d.p99.toFixed(1)} / ${d.max.toFixed(1)}` : '-';
    if (loop)
      console.log(
        `  event-loop delay during the level (p50 / p99 / max ms, sampled every 10 ms: a quiet loop reads about 10): the server's main thread ${lag(loop.server)}, this client's ${lag(loop.client)}`,
      );
    const stalls = answers.filter((a) => !a.error && a.stallMs !== undefined).map((a) => a.stallMs as number);
    if (stalls.length)
      console.log(
        `  playback from the first byte: ${stalls.filter((x) => x > 0).length}/${stalls.length} requests ran out of audio before the next chunk; wait after the first audio p50 / p95 / max ${quantile(stalls, 0.5)?.toFixed(0)} / ${quantile(stalls, 0.95)?.toFixed(0)} / ${Math.max(...stalls).toFixed(0)} ms`,
      );
    for (const f of level.failureSamples) console.log(`  FAILED request: ${f}`);
    if (c === 1 && wholeRequests > 0) {
      // The whole-utterance path on the same server: requests without `stream`, one at a time.
      const whole: Answer[] = [];
      for (let r = 0; r < wholeRequests; r++) whole.push(await speak(server.url, 20_000 + r, false));
      const done = whole.filter((a) => !a.error && a.wallMs !== undefined);
      const audio = done.reduce((t, a) => t + a.bytes / 2 / outputRate, 0);
      const wallMs = done.reduce((t, a) => t + (a.wallMs as number), 0);
      wholeOut = {
        requests: whole.length,
        ok: done.length,
        audioSeconds: audio,
        wallSeconds: wallMs / 1000,
        msPerCode: audio > 0 ? wallMs / (audio * codesPerSecond) : null,
        firstByteP50Ms: quantile(
          done.map((a) => a.ttfaMs as number),
          0.5,
        ),
      };
      console.log(
        `C=1 whole utterance (no stream): ${done.length}/${whole.length} ok, ${audio.toFixed(1)} s of audio in ${(wallMs / 1000).toFixed(2)} s; ` +
          `${wholeOut.msPerCode?.toFixed(2) ?? '-'} ms per code all in (prefill, decode, HiFi-GAN; ${codesPerSecond.toFixed(2)} codes a second of audio), ` +
          `first byte p50 ${wholeOut.firstByteP50Ms?.toFixed(0) ?? '-'} ms`,
      );
      for (const a of whole) if (a.error) console.log(`  FAILED whole-utterance request: ${a.error}`);
    }
  } catch (e) {
    level.note = `${stage}: ${(e as Error).message}`;
    level.failures = level.requests - level.ok;
    console.log(`C=${c}: FAILED, ${level.note}`);
  } finally {
    await stopServer(server.child);
  }
}
result.server = levelsOut;
result.wholeUtterance = wholeOut;

// ---- 4. PyTorch eager ----
type TorchRun = {
  text: string;
  msPerCode_fp32?: number;
  msPerCode_fp16?: number;
  /** Greedy over a static KV cache (static_torch.py), fp32; and with its step as a CUDA graph. */
  msPerCode_static_fp32?: number;
  msPerCode_static_graph_fp32?: number;
  error?: string;
};
const torchRuns: TorchRun[] = [];
let torchNote = '';
if (skipped('4')) torchNote = skipped('4');
else if (!args['torch-model'])
  torchNote =
    'skipped: no --torch-model DIR (a Coqui-layout model folder: model.pth, dvae.pth, mel_stats.pth, config.json, vocab.json)';
else if (!existsSync(join(resolve(args['torch-model']), 'model.pth')))
  torchNote = `skipped: ${resolve(args['torch-model'])} has no model.pth`;
else {
  const python = args.python ?? (await import('../../trainer/index.ts')).pythonBinary();
  const n = Math.min(Number(args['torch-sentences']), SENTENCES.length);
  console.log(`\n## 4. PyTorch eager (python -m xtts.bench.bench_torch, ${python}), ${n} sentence(s), ${codes} codes`);
  for (const text of SENTENCES.slice(0, n)) {
    const r = await runChild(
      python,
      [
        '-W',
        'ignore',
        '-m',
        'xtts.bench.bench_torch',
        resolve(args['torch-model']),
        '--device',
        device,
        '--codes',
        String(codes),
        '--repeat',
        '3',
        '--text',
        text,
      ],
      { cwd: join(root, 'trainer'), timeoutMs: stepTimeoutMs, echo: false },
    );
    try {
      if (r.code !== 0) throw new Error(why(r, stepTimeoutMs / 1000));
      const j = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Record<string, number>;
      torchRuns.push({
        text,
        msPerCode_fp32: j.msPerCode_fp32,
        ...(j.msPerCode_fp16 ? { msPerCode_fp16: j.msPerCode_fp16 } : {}),
        ...(j.msPerCode_static_fp32 ? { msPerCode_static_fp32: j.msPerCode_static_fp32 } : {}),
        ...(j.msPerCode_static_graph_fp32 ? { msPerCode_static_graph_fp32: j.msPerCode_static_graph_fp32 } : {}),
      });
      console.log(
        `fp32 ${j.msPerCode_fp32} ms/code${j.msPerCode_fp16 ? `, fp16 ${j.msPerCode_fp16} ms/code` : ''}` +
          `${j.msPerCode_static_fp32 ? `; static cache fp32 greedy ${j.msPerCode_static_fp32}` : ''}` +
          `${j.msPerCode_static_graph_fp32 ? `, with a CUDA graph ${j.msPerCode_static_graph_fp32}` : ''}` +
          `${j.staticGraphError ? ` (its CUDA graph failed: ${j.staticGraphError})` : ''}: ${text}`,
      );
    } catch (e) {
      torchRuns.push({ text, error: (e as Error).message });
      console.log(`PyTorch run FAILED: ${(e as Error).message}`);
    }
  }
}
if (torchNote) console.log(`\n## 4. PyTorch eager: ${torchNote}`);
const mean = (xs: (number | undefined)[]) => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};
const torchFp32 = mean(torchRuns.map((r) => r.msPerCode_fp32));
const torchFp16 = mean(torchRuns.map((r) => r.msPerCode_fp16));
const torchStatic = mean(torchRuns.map((r) => r.msPerCode_static_fp32));
const torchGraph = mean(torchRuns.map((r) => r.msPerCode_static_graph_fp32));
result.torch = {
  runs: torchRuns,
  note: torchNote || undefined,
  msPerCode_fp32: torchFp32,
  msPerCode_fp16: torchFp16,
  msPerCode_static_fp32: torchStatic,
  msPerCode_static_graph_fp32: torchGraph,
};

// ---- 5. weight-bandwidth floor ----
const floorGraph = batchGraph ?? `gpt_decode_${precision}`;
const g = manifest.graphs[floorGraph];
const weightFiles = g ? [g.file, ...((g.external_data as string[] | undefined) ?? [])] : [];
const weightBytes = weightFiles.reduce((a, f) => a + (manifest.files[f]?.bytes ?? statSync(join(pkg, f)).size), 0);
const floorMs = (weightBytes / (bandwidth * 1e9)) * 1000;
console.log(
  `\n## 5. weight-bandwidth floor: ${floorGraph} ${(weightBytes / 2 ** 20).toFixed(1)} MiB (graph and its weight files) / ${bandwidth} GB/s = ${floorMs.toPrecision(3)} ms per decode step; per code at B = ${batches.join(' / ')}: ${batches.map((b) => (floorMs / b).toPrecision(3)).join(' / ')} ms`,
);
result.floor = {
  graph: floorGraph,
  weightBytes,
  bandwidthGBs: bandwidth,
  msPerStep: floorMs,
  msPerCode: Object.fromEntries(batches.map((b) => [b, floorMs / b])),
};

// ---- the table ----
const load1 = loadavg() as number[];
result.load = { start: load0, end: load1 };
const f2 = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '-' : x.toFixed(d));
const byMode = (match: (m: string) => boolean) =>
  batches.map((b) => f2(batchRows.find((r) => r.batch === b && match(r.mode))?.msPerCode)).join(' / ');
console.log(
  `\n### bench:gpu, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${deviceName} (${device}, ${precision}), load average ${load0[0]?.toFixed(2)} → ${load1[0]?.toFixed(2)}\n`,
);
console.log('| figure | value |');
console.log('| --- | --- |');
console.log(`| package | ${source}; batched graph ${batchGraph ?? 'none'} |`);
if (batchRows.length) {
  console.log(
    `| batch-1 graph, ms per code at B = ${batches.join(' / ')} (runs of ${batchCodesRun}) | ${byMode((m) => m.startsWith('batch-1'))} |`,
  );
  console.log(
    `| ${batchGraph}, ms per code at B = ${batches.join(' / ')} | ${byMode((m) => m.startsWith('batched'))} |`,
  );
} else console.log(`| ms per code, batched vs batch-1 graph | ${batchNote} |`);
if (stepRows.length) {
  // The step's paths as native.ts names them, CUDA-graph rows where there are some.
  const paths = [...new Set(stepRows.map((r) => r.path).filter((p) => p.startsWith('addon')))].filter(
    (p, _, all) => p.includes('CUDA graph') || !all.some((q) => q === `${p}, CUDA graph`),
  );
  for (const p of paths)
    console.log(
      `| ${p}, ms per code at B = ${batches.join(' / ')} | ${batches.map((b) => f2(stepRows.find((r) => r.batch === b && r.path === p)?.msPerCode, 3)).join(' / ')} |`,
    );
  const agree = stepAgreement.filter((a) => paths.includes(a.path));
  console.log(
    `| fixed-shape step's codes against onnxruntime-node's batched graph, B = ${batches.join(' / ')} | ${batches
      .map((b) =>
        agree
          .filter((a) => a.batch === b)
          .map((a) => `${a.sameCodes}/${a.of}`)
          .join(', '),
      )
      .join(' / ')} |`,
  );
} else console.log(`| ms per code, fixed-shape step | ${stepNote} |`);
console.log(
  `| PyTorch eager, ms per code (mean of ${torchRuns.length} sentence(s)) | ${torchNote || `fp32 ${f2(torchFp32)}${torchFp16 !== null ? `, fp16 ${f2(torchFp16)}` : ''}${torchStatic !== null ? `; static cache (fp32, greedy) ${f2(torchStatic)}` : ''}${torchGraph !== null ? `, with a CUDA graph ${f2(torchGraph)}` : ''}${torchRuns.some((r) => r.error) ? `; ${torchRuns.filter((r) => r.error).length} FAILED` : ''}`} |`,
);
console.log(
  `| weight-bandwidth floor, ms per code at B = ${batches.join(' / ')} (${(weightBytes / 2 ** 20).toFixed(1)} MiB at ${bandwidth} GB/s) | ${batches.map((b) => (floorMs / b).toPrecision(3)).join(' / ')} |`,
);
console.log(
  '\n| C | streams | requests | ok | non-200 | failures | audio s per wall s | TTFA p50 ms | TTFA p95 ms | peak GPU MiB (idle) | server peak RSS MiB |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const l of levelsOut) {
  const bad = Object.entries(l.non200);
  console.log(
    `| ${l.concurrency} | ${l.streams} | ${l.requests} | ${l.ok} | ${bad.length ? bad.map(([s, n]) => `${n}×${s}`).join(', ') : 0} | ${l.failures}${l.note ? ` (${l.note.split('\n')[0]})` : ''} | ${f2(l.audioPerWall)} | ${f2(l.ttfaP50Ms, 0)} | ${f2(l.ttfaP95Ms, 0)} | ${l.peakGpuMiB ?? (hasSmi ? '-' : 'no nvidia-smi')}${l.idleGpuMiB !== null ? ` (${l.idleGpuMiB})` : ''} | ${f2(l.peakRssMiB, 0)} |`,
  );
}
if (wholeOut)
  console.log(
    `\nwhole utterance at C = 1 (no stream, ${wholeOut.ok}/${wholeOut.requests} ok): ${f2(wholeOut.msPerCode)} ms per code all in, ${f2(wholeOut.audioSeconds / wholeOut.wallSeconds)} s of audio per s, first byte p50 ${f2(wholeOut.firstByteP50Ms, 0)} ms`,
  );
if (args.json) {
  writeFileSync(resolve(args.json), JSON.stringify(result, null, 1));
  console.log(`\nwrote ${resolve(args.json)}`);
}
const failed =
  levelsOut.some((l) => l.failures > 0 || Object.keys(l.non200).length > 0) ||
  (wholeOut !== null && wholeOut.ok < wholeOut.requests) ||
  batchNote.startsWith('FAILED') ||
  stepNote.startsWith('FAILED') ||
  torchRuns.some((r) => r.error);
cleanup();
process.exit(failed ? 1 : 0);
