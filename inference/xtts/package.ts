/**
 * Model package loader: reads manifest.json, refuses unknown format versions, checks every file
 * it uses against the manifest's sha256, resolves a fine-tuned package's base for the graphs it
 * shares, and opens the ONNX sessions. Every failure is an EngineError with a MODEL_* code, so
 * the API can tell "not there" from "damaged" from "too new".
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { traceMemory } from '../engine/phase-times.ts';
import { EngineError } from '../engine/types.ts';
import { nativeSessionOf, openHostSession } from '../native/host-session.ts';
import { DeviceSession, nativeAvailable, nativeCudaAttention } from '../native/index.ts';
import { stepMaxLen } from '../native/static.ts';
import {
  type Device,
  openSession,
  RuntimeError,
  type Session,
  type SessionOptions,
  type ValueInfo,
} from '../runtime/index.ts';
import { VoiceTokenizer } from '../text/tokenizer.ts';
import { hasManifest, type Manifest, readManifest } from './manifest.ts';
import type { VocoderBatcherOptions } from './vocoder-batcher.ts';

/**
 * GPT graph precision. fp32 is the reference; fp16 is for CUDA; int8 (weights int8, activations
 * quantized per run) and int4 (4-bit weights in blocks, onnxruntime's MatMulNBits) are the CPU
 * variants: one decode step reads every GPT weight once, so on a CPU it costs about the weights'
 * bytes over the memory bandwidth, and int8 is a quarter of fp32's bytes, int4 an eighth.
 */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];
/** The CPU variants the trainer's quantizer (trainer/xtts/export/quantize.py) adds to a package. */
export const QUANTIZED: readonly Precision[] = ['int8', 'int4'];

/** The fixed-shape decode steps a caller may prefer (PackageOptions.staticStep). */
export type StaticStepChoice = 'dmmha' | 'inplace' | 'xattn' | 'xattn16';

export type PackageOptions = {
  device?: Device;
  deviceId?: number;
  /**
   * GPT graph precision. By default fp32 on CUDA (fp16 changes greedy paths: README, "fp16 on
   * CUDA"); on CPU int8 when the package has the int8 graphs (the exporter's optional CPU variant,
   * see README's benchmark), else fp32. An explicit precision
   * the package lacks is refused (MODEL_NOT_FOUND naming the missing graph).
   */
  precision?: Precision;
  /**
   * HiFi-GAN's precision: fp32 by default; int8 opens `hifigan_int8` (the quantizer's int8 HiFi-GAN,
   * 2.6x faster on CPU, at a cost in agreement with fp32 measured in README's benchmark), refused
   * (MODEL_NOT_FOUND) by a package without it.
   */
  vocoderPrecision?: 'fp32' | 'int8';
  intraOpThreads?: number;
  /** onnxruntime settings for every session on CPU (default: CPU_SESSION). */
  cpuSession?: CpuSessionOptions;
  /** Hash every file used against the manifest (default). Off only for trusted, already-checked copies. */
  verify?: boolean;
  /**
   * Also open the batched decode graph (`gpt_batch_fused_<precision>`, else `gpt_batch_<precision>`,
   * see xtts/batch.ts) when the package has one: what a worker serving several streams decodes them
   * with. Default off.
   */
  batchedDecode?: boolean;
  /**
   * Open that batched graph through the native addon (inference/native/: a DeviceSession, whose runs
   * can leave their outputs in device memory) rather than onnxruntime-node, and prefer the fixed-shape
   * step where the package has one (staticDecode). Refused (ENGINE_FAILED, with the addon's reason)
   * where the addon is not built or does not load. Its other graphs (prefill, HiFi-GAN, encoders) then
   * run through the addon too (native/host-session.ts), off the calling thread. Default off.
   */
  nativeBatch?: boolean;
  /**
   * With nativeBatch, a package that has the fixed-shape decode step (`gpt_step_static_fused_<precision>`,
   * else `gpt_step_static_<precision>`; native/static.ts) opens it instead of gpt_batch_*: `slots`
   * sequences at once (default 16; the engine gives its streams per worker), `chunk` steps per chunk
   * (default 20). Its KV length is the longest prompt plus the code limit (the manifest's perceiver
   * latents, max_text_tokens + 2 and max_audio_codes).
   */
  staticDecode?: { slots?: number; chunk?: number };
  /**
   * Which fixed-shape step to prefer (INFERENCE_STATIC_STEP; default `xattn` on CUDA where the addon has
   * its attention kernel, else `dmmha`): `dmmha` (the step over
   * DecoderMaskedMultiHeadAttention where the package has one in this device's layout, else the next),
   * `inplace` (skip the dmmha step: the in-place one, else the fused, else the plain one), `xattn` (the
   * step on the addon's own attention, gpt_step_static_xattn_<precision>, which reads each row to its own
   * length; else as `dmmha`) or `xattn16` (that step over an fp16 cache, gpt_step_static_xattn_kv16_<precision>,
   * half the state; else as `xattn`).
   */
  staticStep?: StaticStepChoice | undefined;
  /**
   * With nativeBatch on CUDA, the package's graphs other than the decode step (HiFi-GAN's sessions, the
   * prefill, the encoders) take their device memory from one arena shared by them all
   * (INFERENCE_SHARED_ARENA; DeviceSessionOptions.sharedArena) rather than an arena each.
   */
  sharedArena?: boolean | undefined;
  /**
   * On CUDA, open the fixed-shape step with CUDA graphs (the addon runs it on a thread of its own and
   * StaticGpt.warmUp captures them at load; the dmmha step one per bound, static.ts BOUND_STEP)
   * (INFERENCE_STEP_CUDA_GRAPH). Default off.
   */
  stepCudaGraph?: boolean | undefined;
  /**
   * On CUDA, the fixed-shape step's kernels on a CUDA stream of the device's highest priority (the addon's
   * `streamPriority`; INFERENCE_STEP_STREAM_PRIORITY). Default: onnxruntime's own stream.
   */
  stepStreamPriority?: 'high' | 'normal' | undefined;
  /**
   * With the fixed-shape step through the addon, the prompts of streams that arrive together in one
   * prefill run, `maxRows` at most (native/prefill-batcher.ts), where the package has
   * gpt_prefill_batch_<precision> (`xtts.export --batch`); that graph is then the package's prefill.
   * INFERENCE_PREFILL_BATCH. Unset: one prefill a prompt.
   */
  prefillBatch?: { maxRows: number } | undefined;
  /**
   * With the fixed-shape step through the addon, each voice's conditioning positions kept on the device,
   * `voices` of them at most, and each prompt's text computed after them (native/prefix-cache.ts), where the
   * package has gpt_prefill_prefix_<precision> (`xtts.export --batch`); that graph is then the package's
   * prefill (one copy of the GPT's weights). Takes the place of prefillBatch where both are asked for.
   * INFERENCE_PREFIX_CACHE. Unset: each prompt in one pass.
   */
  prefixCache?: { voices: number } | undefined;
  /**
   * `fused`: a prompt's pass through gpt_prefill_fused_fp32 (`xtts.export --batch`: onnxruntime's fused
   * operators, far fewer nodes a run than the trace) where the package has it and the precision is fp32;
   * else, or `trace` (the default), gpt_prefill_<precision>. Not where prefixCache or prefillBatch chose
   * their graph. INFERENCE_PREFILL_GRAPH.
   */
  prefillGraph?: 'trace' | 'fused' | undefined;
  /**
   * HiFi-GAN windows of several streams in one run (xtts/vocoder-batcher.ts) through the package's
   * `hifigan_batch` graph (its base's for a fine-tuned package), where it has one and the vocoder is
   * fp32, with the batcher's options (VocoderBatcherOptions: `maxRows`, `maxWindows`). Unset: each window
   * runs alone.
   */
  vocoderBatch?: VocoderBatcherOptions | undefined;
  /**
   * Text tokens per sentence at most, below the package's limit (402 for XTTS-v2): longer sentences are
   * split in two (Xtts.sentenceIds), and the fixed-shape step's KV cache holds that many fewer
   * positions per slot (at full size in fp32, 240 KiB a position: 402 → 120 saves 66 MiB a slot,
   * 4.1 GiB at 64 slots). Unset: the package's limit.
   */
  maxTextTokens?: number | undefined;
  /**
   * Codes per sentence at most; the package's limit (max_audio_codes) when unset or larger. The fixed-shape
   * step's KV cache then holds that many fewer positions per slot (INFERENCE_MAX_AUDIO_CODES).
   */
  maxAudioCodes?: number | undefined;
  /**
   * On CUDA through the native addon, let HiFi-GAN's convolutions use TF32 (tensor cores; faster, its
   * samples then differ from fp32's in the last bits of a 10-bit mantissa). Default off: every graph in
   * fp32 with TF32 off (tf32Option).
   */
  vocoderTf32?: boolean;
  /**
   * On CUDA through the native addon, HiFi-GAN's kernels on this many of the GPU's SMs only (a CUDA green
   * context; INFERENCE_VOCODER_SMS): the decode step and the prompts' passes then always find the other SMs
   * free instead of waiting for HiFi-GAN's long convolutions to leave them. Unset: every SM.
   */
  vocoderSms?: number | undefined;
  /**
   * More onnxruntime CUDA provider options for every session the native addon opens on CUDA (names as
   * onnxruntime's CUDA provider takes them, e.g. `cudnn_conv_use_max_workspace`; INFERENCE_CUDA_OPTIONS).
   * The engine's own settings (TF32, CUDA graphs, device) are not among them.
   */
  cudaOptions?: Readonly<Record<string, string>> | undefined;
};

/**
 * Text tokens a sentence may hold: the package's limit, or fewer (PackageOptions.maxTextTokens): longer
 * sentences are split (Xtts.sentenceIds).
 */
export function textTokenLimit(manifest: Manifest, maxTextTokens?: number): number {
  const own = manifest.tokens.max_text_tokens;
  return maxTextTokens === undefined ? own : Math.max(2, Math.min(own, Math.floor(maxTextTokens)));
}

/** Sizes of the fixed-shape step opened for a package (the symbolic dims fixed at open). */
export function staticSizes(
  manifest: Manifest,
  options: PackageOptions['staticDecode'] = {},
  maxTextTokens?: number,
  maxAudioCodes?: number,
) {
  const t = manifest.tokens;
  const codes = Math.min(t.max_audio_codes, Math.max(1, Math.floor(maxAudioCodes ?? t.max_audio_codes)));
  return {
    slots: Math.max(1, Math.floor(options.slots ?? 16)),
    // The longest prompt: conditioning latents, [START], fewer than `limit` text tokens, [STOP] and the
    // audio start (sentenceIds); then every code of the longest sentence.
    maxLen: manifest.model.config.perceiver_latents + textTokenLimit(manifest, maxTextTokens) + 2 + codes,
    chunk: Math.max(1, Math.floor(options.chunk ?? 20)),
  };
}

export type ModelPackage = {
  dir: string;
  /** sha256 of manifest.json: voices computed with this package carry it. */
  key: string;
  manifest: Manifest;
  /** The base package's manifest for a fine-tuned package, else the package's own. */
  baseManifest: Manifest;
  precision: Precision;
  /** HiFi-GAN's graph: `hifigan` (fp32) or `hifigan_int8`. */
  vocoder: 'hifigan' | 'hifigan_int8';
  device: Device;
  tokenizer: VoiceTokenizer;
  melStats: Float32Array;
  /** Bytes of the graphs it opened: about the memory its sessions hold (the weights). */
  bytes: number;
  sessions: {
    condEncoder: Session;
    speakerEncoder: Session;
    hifigan: Session;
    prefill: Session;
    decode: Session;
    /**
     * The batched decode graph, when asked for (PackageOptions.batchedDecode) and the package has one:
     * a DeviceSession of the native addon with PackageOptions.nativeBatch.
     */
    batch: Session | DeviceSession | null;
  };
  /** The HiFi-GAN graph's session for one padding bucket (released with the package); see Hifigan. */
  openHifigan(bucket: number): Promise<Session>;
  /**
   * The batched HiFi-GAN graph's session for `rows` windows of one bucket (PackageOptions.vocoderBatch),
   * or null when not asked for or the package has none.
   */
  openHifiganBatch: ((bucket: number, rows: number) => Promise<Session>) | null;
  release(): Promise<void>;
};

export type CpuSessionOptions = Pick<SessionOptions, 'cpuMemArena' | 'config'>;

/**
 * onnxruntime's CUDA provider option use_tf32 (on by default there): TF32 rounds fp32 matrix and
 * convolution inputs to 10 bits of mantissa, which changes the GPT's greedy path (README, "fp32 and
 * TF32"). Off for every graph but HiFi-GAN, whose setting is PackageOptions.vocoderTf32. Applies to the
 * sessions the native addon opens; onnxruntime-node's take no provider options, and for them
 * infra/config.ts sets NVIDIA_TF32_OVERRIDE=0 on CUDA unless the vocoder's TF32 is asked for.
 */
function tf32Option(on: boolean): Record<string, string> {
  return { use_tf32: on ? '1' : '0' };
}

/**
 * A session that opens on its first run, its inputs and outputs known before (from the manifest);
 * released only if it was opened.
 */
function lazySession(
  path: string,
  io: { inputs: readonly ValueInfo[]; outputs: readonly ValueInfo[] },
  opener: () => Promise<Session>,
): Session {
  let opened: Promise<Session> | null = null;
  let released = false;
  return {
    path,
    inputs: io.inputs,
    outputs: io.outputs,
    run: async (feeds) => {
      if (released) throw new RuntimeError(path, 'run after the package was released');
      // A failed open is tried again by the next run.
      opened ??= opener().catch((e) => {
        opened = null;
        throw e;
      });
      return (await opened).run(feeds);
    },
    release: async () => {
      released = true;
      if (opened) await (await opened.catch(() => null))?.release();
    },
  };
}

/**
 * The CUDA arena of the addon's sessions grows by what is asked for, not by powers of two (onnxruntime's
 * default): the fixed-shape step's state at 64 slots (16.3 GB at full size) took 25 GB of the GPU
 * with the default. Freed blocks are still reused. INFERENCE_CUDA_OPTIONS may set it otherwise.
 */
const CUDA_ARENA = { arena_extend_strategy: 'kSameAsRequested' } as const;

/** HiFi-GAN's CUDA provider options through the addon (see openHifigan in loadPackage). */
const HIFIGAN_CUDA = { cudnn_conv_algo_search: 'HEURISTIC' } as const;

/** Sessions' settings on CUDA (see loadPackage). */
const CUDA_SESSION: CpuSessionOptions = { config: { 'session.intra_op.allow_spinning': '0' } };

/**
 * Sessions' settings on CPU. No memory arena: the GPT's KV cache grows by one position per code,
 * every decode run makes a new one, and HiFi-GAN's activations grow with the audio, so an arena
 * would keep the largest of each reserved for good; without one, that memory is freed after the run.
 */
export const CPU_SESSION: CpuSessionOptions = { cpuMemArena: false };

/**
 * Sessions of this thread, shared by every package that opens the same graph file the same way:
 * a fine-tuned checkpoint uses its base's speaker encoder and HiFi-GAN, and loading it must not
 * load those again (memory, and on CUDA about a second of setup per HiFi-GAN bucket). `slot`
 * tells apart sessions of one graph kept for different input shapes.
 */
const sharedSessions = new Map<string, { session: Promise<Session>; refs: number }>();

/** What the memory trace and nativeMemory call a session: its graph file, and its slot (a HiFi-GAN bucket). */
function sessionLabel(path: string, slot: number | undefined): string {
  return `${basename(path)}${slot !== undefined ? ` (${slot})` : ''}`;
}

async function acquireSession(
  path: string,
  slot: number | undefined,
  options: SessionOptions,
  native = false,
  providerOptions: Readonly<Record<string, string>> = {},
  smCount?: number,
  sharedArena = false,
): Promise<Session> {
  const key = JSON.stringify([
    path,
    slot ?? null,
    native,
    providerOptions,
    smCount ?? null,
    sharedArena,
    options.device,
    options.deviceId ?? 0,
    options.intraOpThreads ?? 0,
    options.cpuMemArena ?? true,
    options.config ?? {},
  ]);
  let entry = sharedSessions.get(key);
  if (!entry) {
    entry = {
      session: native
        ? Promise.resolve().then(() =>
            openHostSession(path, {
              ...(options.device ? { device: options.device } : {}),
              ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
              ...(options.intraOpThreads ? { threads: options.intraOpThreads } : {}),
              ...(options.cpuMemArena !== undefined ? { cpuMemArena: options.cpuMemArena } : {}),
              ...(options.config ? { config: options.config } : {}),
              providerOptions,
              ...(smCount ? { smCount } : {}),
              ...(sharedArena ? { sharedArena } : {}),
              label: sessionLabel(path, slot),
            }),
          )
        : openSession(path, options),
      refs: 0,
    };
    sharedSessions.set(key, entry);
  }
  entry.refs++;
  let session: Session;
  try {
    session = await entry.session;
  } catch (e) {
    if (--entry.refs === 0) sharedSessions.delete(key);
    throw e;
  }
  const held = entry;
  let released = false;
  return {
    ...session,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      sharedSessions.delete(key);
      await session.release();
    },
  };
}

/** Sessions open in this thread, with how many packages hold each (for tests and stats). */
export function openSessionCount(): number {
  return sharedSessions.size;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', fail)
      .on('end', () => ok(h.digest('hex')));
  });
}

/** Checks one file of a package against its manifest entry; returns its path. */
async function checkedFile(dir: string, m: Manifest, file: string, verify: boolean): Promise<string> {
  const entry = m.files[file];
  const path = join(dir, file);
  if (!entry) throw new EngineError('MODEL_CORRUPT', `${dir}: manifest lists no sha256 for ${file}`);
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size < 0) throw new EngineError('MODEL_NOT_FOUND', `${path}: missing from the model package`);
  if (size !== entry.bytes)
    throw new EngineError('MODEL_CORRUPT', `${path}: ${size} bytes, manifest says ${entry.bytes}`);
  if (verify) {
    const got = await sha256File(path);
    if (got !== entry.sha256)
      throw new EngineError('MODEL_CORRUPT', `${path}: sha256 ${got} does not match the manifest`);
  }
  return path;
}

/** The exporter writes the base's absolute path; packages get copied, so also look beside this one. */
async function findBase(dir: string, base: NonNullable<Manifest['base']>): Promise<string> {
  const candidates = [
    isAbsolute(base.path) ? base.path : resolve(dir, base.path),
    join(dirname(dir), basename(base.path)),
  ];
  for (const c of candidates) {
    if (hasManifest(c)) return c;
  }
  throw new EngineError(
    'MODEL_NOT_FOUND',
    `${dir}: base package ${base.path} not found (looked in ${candidates.join(', ')})`,
  );
}

export async function loadPackage(dirIn: string, options: PackageOptions = {}): Promise<ModelPackage> {
  const dir = resolve(dirIn);
  const device = options.device ?? 'cpu';
  const verify = options.verify ?? true;
  const { manifest, key } = await readManifest(dir);

  let baseDir = dir;
  let baseManifest = manifest;
  if (manifest.kind === 'fine-tuned') {
    if (!manifest.base) throw new EngineError('MODEL_CORRUPT', `${dir}: fine-tuned package without a base`);
    baseDir = await findBase(dir, manifest.base);
    const b = await readManifest(baseDir);
    if (b.key !== manifest.base.manifest_sha256) {
      throw new EngineError(
        'MODEL_CORRUPT',
        `${baseDir}: is not the base this package was exported against (manifest sha256 differs)`,
      );
    }
    baseManifest = b.manifest;
  }

  const has = (name: string) => Boolean(manifest.graphs[name] ?? (baseDir !== dir && baseManifest.graphs[name]));
  const precision: Precision =
    options.precision ??
    (device === 'cuda' ? 'fp32' : has('gpt_prefill_int8') && has('gpt_decode_int8') ? 'int8' : 'fp32');

  for (const g of ['gpt_prefill', 'gpt_decode']) {
    if (!has(`${g}_${precision}`) && options.precision && has(`${g}_fp32`)) {
      throw new EngineError(
        'MODEL_NOT_FOUND',
        `${dir}: no ${g}_${precision} graph in this package (precision ${precision} asked for; it has ${PRECISIONS.filter((p) => has(`${g}_${p}`)).join(', ')})`,
      );
    }
  }

  const vocoder = options.vocoderPrecision === 'int8' ? 'hifigan_int8' : 'hifigan';
  if (vocoder === 'hifigan_int8' && !has(vocoder))
    throw new EngineError(
      'MODEL_NOT_FOUND',
      `${dir}: no hifigan_int8 graph in this package (vocoder precision int8 asked for)`,
    );

  // Each file checked once, also when two graphs name it (the int8 variant's shared GPT graph).
  const checked = new Map<string, Promise<string>>();
  const check = (d: string, m: Manifest, file: string) => {
    const key = join(d, file);
    let p = checked.get(key);
    if (!p) {
      p = checkedFile(d, m, file, verify);
      checked.set(key, p);
    }
    return p;
  };
  // A graph may keep its weights in files beside it (`external_data`), checked like the graph.
  const weightFiles = new Set<string>();
  const checkGraph = async (d: string, m: Manifest, g: Manifest['graphs'][string]) => {
    const extra = (g as { external_data?: unknown }).external_data ?? [];
    if (!Array.isArray(extra) || !extra.every((f) => typeof f === 'string' && f === basename(f)))
      throw new EngineError(
        'MODEL_CORRUPT',
        `${d}: graph ${g.file} lists external_data that is not a list of file names`,
      );
    for (const f of extra) weightFiles.add(await check(d, m, f));
    return check(d, m, g.file);
  };
  const graphPath = async (name: string): Promise<string> => {
    const own = manifest.graphs[name];
    if (own) return checkGraph(dir, manifest, own);
    const shared = baseManifest.graphs[name];
    if (shared && baseDir !== dir) return checkGraph(baseDir, baseManifest, shared);
    throw new EngineError('MODEL_CORRUPT', `${dir}: manifest has no graph ${name}`);
  };

  const vocabPath = await checkedFile(dir, manifest, manifest.vocab, verify);
  const melPath = await checkedFile(dir, manifest, manifest.mel_stats, verify);
  let tokenizer: VoiceTokenizer;
  let melStats: Float32Array;
  try {
    tokenizer = VoiceTokenizer.fromJson(await readFile(vocabPath, 'utf8'));
    const stats = JSON.parse(await readFile(melPath, 'utf8')) as unknown;
    if (!Array.isArray(stats) || stats.length !== 80 || !stats.every((v) => typeof v === 'number' && v !== 0))
      throw new Error('expected 80 non-zero numbers');
    melStats = Float32Array.from(stats as number[]);
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', `${dir}: vocab or mel_stats unreadable (${(e as Error).message})`);
  }

  // On CUDA, no spinning: a thread waiting for work sleeps rather than holding a core the other
  // sessions' runs, the decode loop and the HTTP server need.
  const cpuSession = device === 'cpu' ? (options.cpuSession ?? CPU_SESSION) : CUDA_SESSION;
  // The batched graph carries the GPT's weights, so it comes from the manifest that gives gpt_decode:
  // a fine-tuned package without one of its own never takes its base's (the base model's voice).
  // The fused-operator variant when there are both: the same interface, fewer kernels.
  const gptHere = Boolean(manifest.graphs[`gpt_decode_${precision}`]);
  /** Whether the package has this GPT-side graph: its own, or (a fine-tuned one without GPT graphs) its base's. */
  const hasGpt = (g: string) => (gptHere ? Boolean(manifest.graphs[g]) : has(g));
  // Through the addon, the fixed-shape step first (its state in place on the device, CUDA graphs): the
  // variant that reads and writes each layer's cache in place (no copy of the cache per step), then the
  // fused-operator one, then the plain one (the same state, far fewer kernels per step each).
  /** A graph's inputs and outputs as its manifest lists them (the package's, else its base's). */
  const graphIo = (name: string) => {
    const g = manifest.graphs[name] ?? baseManifest.graphs[name];
    const info = (v: unknown) => (Array.isArray(v) ? (v as ValueInfo[]) : []);
    return { inputs: info(g?.inputs), outputs: info(g?.outputs) };
  };
  // First of all the step over DecoderMaskedMultiHeadAttention, which reads only the columns a chunk can
  // need, where its K layout is this device's kernel's (a CUDA export lays K out for the CUDA kernel, rank 5
  // per layer; the CPU kernel reads [S, H, M, dh]).
  const dmmhaStep = `gpt_step_static_dmmha_${precision}`;
  const dmmhaFits = () => {
    const k = graphIo(dmmhaStep).inputs.find((i) => i.name === 'cache_k_0');
    return k !== undefined && (k.shape.length === 5) === (device === 'cuda');
  };
  // The addon's own attention (xattn) needs its CUDA kernel on CUDA (built where build:native found nvcc).
  const xattnHere = device !== 'cuda' || nativeCudaAttention();
  const choice = options.staticStep ?? (device === 'cuda' && xattnHere ? 'xattn' : 'dmmha');
  const xattn = xattnHere && (choice === 'xattn16' || choice === 'xattn');
  const batchGraph = [
    ...(options.nativeBatch
      ? [
          ...(xattn && choice === 'xattn16' ? [`gpt_step_static_xattn_kv16_${precision}`] : []),
          ...(xattn ? [`gpt_step_static_xattn_${precision}`] : []),
          ...(choice !== 'inplace' ? [dmmhaStep] : []),
          `gpt_step_static_inplace_${precision}`,
          `gpt_step_static_fused_${precision}`,
          `gpt_step_static_${precision}`,
        ]
      : []),
    `gpt_batch_fused_${precision}`,
    `gpt_batch_${precision}`,
  ].find((g) => hasGpt(g) && (g !== dmmhaStep || dmmhaFits()));
  const baseSizes = staticSizes(manifest, options.staticDecode, options.maxTextTokens, options.maxAudioCodes);
  const stepSizes = { ...baseSizes, maxLen: stepMaxLen(baseSizes.maxLen, batchGraph === dmmhaStep) };
  const vocoderTf32 = options.vocoderTf32 === true;
  const staticStep = Boolean(
    options.nativeBatch && options.batchedDecode && batchGraph?.startsWith('gpt_step_static_'),
  );
  const vocoderBatchPath =
    options.vocoderBatch && vocoder === 'hifigan' && has('hifigan_batch') ? await graphPath('hifigan_batch') : null;
  // Several streams' prompts a run (prefillBatch): the batched prefill graph is then the prefill (one copy
  // of the GPT's weights for both), where the fixed-shape step takes the prefill's cache on the device.
  const prefillBatchGraph = `gpt_prefill_batch_${precision}`;
  const prefixGraph = `gpt_prefill_prefix_${precision}`;
  const prefixed = Boolean(options.prefixCache && staticStep && hasGpt(prefixGraph));
  const prefillBatched = !prefixed && Boolean(options.prefillBatch && staticStep && hasGpt(prefillBatchGraph));
  const fusedPrefill = `gpt_prefill_fused_${precision}`;
  const prefillFused = !prefixed && !prefillBatched && options.prefillGraph === 'fused' && hasGpt(fusedPrefill);
  const paths = {
    condEncoder: await graphPath('cond_encoder'),
    speakerEncoder: await graphPath('speaker_encoder'),
    hifigan: await graphPath(vocoder),
    prefill: await graphPath(
      prefixed
        ? prefixGraph
        : prefillBatched
          ? prefillBatchGraph
          : prefillFused
            ? fusedPrefill
            : `gpt_prefill_${precision}`,
    ),
    decode: await graphPath(`gpt_decode_${precision}`),
    ...(options.batchedDecode && batchGraph ? { batch: await graphPath(batchGraph) } : {}),
  };
  const opened: Session[] = [];
  const native = options.nativeBatch === true;
  /** The CUDA provider options of an addon session: the arena, INFERENCE_CUDA_OPTIONS, TF32, then `extra`. */
  const cudaProvider = (tf32: boolean, extra: Readonly<Record<string, string>> = {}) => ({
    ...CUDA_ARENA,
    ...options.cudaOptions,
    ...tf32Option(tf32),
    ...extra,
  });
  const open = async (
    path: string,
    slot?: number,
    tf32 = false,
    extra: Readonly<Record<string, string>> = {},
    sms?: number,
  ) => {
    try {
      // Through the addon with nativeBatch: its runs leave the worker's thread free (host-session.ts).
      const s = await acquireSession(
        path,
        slot,
        {
          device,
          ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
          ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
          ...cpuSession,
        },
        native,
        native && device === 'cuda' ? cudaProvider(tf32, extra) : {},
        native && device === 'cuda' ? sms : undefined,
        native && device === 'cuda' && options.sharedArena === true,
      );
      opened.push(s);
      const got = nativeSessionOf(s)?.sms;
      traceMemory(`opening ${sessionLabel(path, slot)}${got ? ` on ${got[0]} of the GPU's ${got[1]} SMs` : ''}`);
      return s;
    } catch (e) {
      await Promise.all(opened.map((s) => s.release()));
      // A file that matched its sha256 but will not open is a runtime problem (e.g. no CUDA provider).
      throw new EngineError(verify ? 'ENGINE_FAILED' : 'MODEL_CORRUPT', (e as Error).message);
    }
  };
  /** A HiFi-GAN session: its TF32 and SM settings (vocoderTf32, vocoderSms). */
  const openVocoder = (path: string, slot?: number, extra: Readonly<Record<string, string>> = {}) =>
    open(path, slot, vocoderTf32, extra, options.vocoderSms);
  let step: DeviceSession | null = null;
  const openNative = async (path: string): Promise<DeviceSession> => {
    const addon = nativeAvailable();
    let why = addon.ok ? '' : addon.reason;
    if (addon.ok)
      try {
        // The settings open() gives onnxruntime-node's sessions, so both paths run the graph alike.
        step = DeviceSession.open(path, {
          device,
          ...(device === 'cuda' ? { providerOptions: cudaProvider(false) } : {}),
          ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
          ...(options.intraOpThreads ? { threads: options.intraOpThreads } : {}),
          ...(cpuSession.cpuMemArena !== undefined ? { cpuMemArena: cpuSession.cpuMemArena } : {}),
          ...(cpuSession.config ? { config: cpuSession.config } : {}),
          // The fixed-shape step's shapes and buffers never change, so onnxruntime can capture it as a CUDA
          // graph and replay it (stepCudaGraph; the engine's default on CUDA). onnxruntime's CUDA provider
          // keeps a captured graph per thread, so a graph session's runs stay on one thread (the addon's
          // `ownThread`, which `cudaGraph` implies): runs spread over libuv's pool captured a graph on every
          // pool thread, and a capture beside another session's run made both fail ("operation not
          // permitted when stream is capturing": 2 of 3 streams at one slot on an H200, 2026-12-01).
          ...(options.stepCudaGraph && device === 'cuda' ? { cudaGraph: true } : {}),
          ...(options.stepStreamPriority === 'high' && device === 'cuda' ? { streamPriority: 'high' as const } : {}),
          ...(batchGraph?.startsWith('gpt_step_static_')
            ? { dims: { slots: stepSizes.slots, max_len: stepSizes.maxLen, chunk: stepSizes.chunk } }
            : {}),
        });
        traceMemory(`opening ${basename(path)} (the batched decode)`);
        return step;
      } catch (e) {
        why = (e as Error).message;
      }
    await Promise.all(opened.map((s) => s.release()));
    throw new EngineError('ENGINE_FAILED', `${path}: the batched decode graph through the native addon: ${why}`);
  };
  const sessions = {
    condEncoder: await open(paths.condEncoder),
    speakerEncoder: await open(paths.speakerEncoder),
    hifigan: await openVocoder(paths.hifigan),
    // A package whose prefill and decode name one file (the int8 variant: one copy of the weights,
    // see quantize.py) opens it once: both get the same session.
    prefill: await open(paths.prefill),
    // With the fixed-shape step every decode goes through it (xtts/step-batcher.ts): the batch-1 graph
    // opens only if something runs it, rather than holding a second copy of the GPT's weights.
    decode:
      staticStep && paths.decode !== paths.prefill
        ? lazySession(paths.decode, graphIo(`gpt_decode_${precision}`), () => open(paths.decode))
        : await open(paths.decode),
    batch: paths.batch ? await (options.nativeBatch ? openNative(paths.batch) : open(paths.batch)) : null,
  };
  const sizes = await Promise.all(
    [...new Set([...Object.values(paths), ...(vocoderBatchPath ? [vocoderBatchPath] : []), ...weightFiles])].map((p) =>
      stat(p).then((s) => s.size),
    ),
  );
  return {
    dir,
    key,
    manifest,
    baseManifest,
    precision,
    vocoder,
    device,
    tokenizer,
    melStats,
    bytes: sizes.reduce((a, b) => a + b, 0),
    sessions,
    // Through the addon on CUDA, HiFi-GAN's convolutions pick their algorithms by cuDNN's heuristics: a
    // new shape (a bucket's first window, or a change of rows) costs a few ms of planning instead of the
    // exhaustive search's second or so (hifigan.ts), which a whole render's first use of a large bucket paid.
    openHifigan: (bucket: number) => openVocoder(paths.hifigan, bucket, HIFIGAN_CUDA),
    // One session per bucket for every number of rows, so no (bucket, rows) pair holds a session, its
    // weights and workspace of its own.
    openHifiganBatch: vocoderBatchPath
      ? (bucket: number, _rows: number) => openVocoder(vocoderBatchPath, bucket, HIFIGAN_CUDA)
      : null,
    release: async () => {
      step?.release();
      step = null;
      await Promise.all(opened.map((s) => s.release()));
    },
  };
}
