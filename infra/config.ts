import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

// The native addon's runs (inference/native/: a package's graphs with INFERENCE_NATIVE) wait on libuv's
// pool, 4 threads unless set: a worker with many streams keeps a decode window, several HiFi-GAN runs and
// a prefill in flight at once, and file and crypto work shares the pool. Read when the pool first starts,
// after the modules load.
process.env.UV_THREADPOOL_SIZE ??= '16';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The job kinds a worker can claim (DATASET_BUILD_JOB, TRAINING_RUN_JOB, PRESCREEN_JOB). */
export const jobKinds = ['dataset.build', 'training.run', 'prescreen.run'] as const;
export type JobKind = (typeof jobKinds)[number];

/** `true`/`false` (or `1`/`0`): z.coerce.boolean would read the string "false" as true. */
const flag = z.enum(['true', 'false', '1', '0']).transform((s) => s === 'true' || s === '1');

/** `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
function isAddressOrRange(s: string): boolean {
  const [address = '', bits, ...rest] = s.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/** Comma-separated list of base URLs, e.g. `http://pod-a:8000,http://pod-b:8000`. */
const urlList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u.length > 0),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ })));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** When unset, an embedded PGlite database lives under DATA_DIR. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Model packages; defaults to DATA_DIR/models. */
  MODEL_DIR: z.string().min(1).optional(),
  /** Inference pods; when unset the engine runs in-process. */
  INFERENCE_URLS: urlList.optional(),
  /** Where the in-process engine (or a pod's) runs: onnxruntime's CPU or CUDA provider. */
  INFERENCE_DEVICE: z.enum(['cpu', 'cuda']).default('cpu'),
  /**
   * The GPT graphs' precision: auto is int8 on CPU when the package has the int8 graphs (else fp32),
   * fp32 on CUDA (fp16 is opt-in: it changes greedy paths, README "fp16 on CUDA"). int4 (4-bit
   * weights) is opt-in on CPU where the package has it. fp32 is the reference (README: benchmark,
   * for what int8 and int4 cost in agreement).
   */
  INFERENCE_PRECISION: z.enum(['auto', 'fp32', 'fp16', 'int8', 'int4']).default('auto'),
  /**
   * HiFi-GAN's precision: fp32 (the default and the reference), or int8 (the package's hifigan_int8,
   * from the same quantizer as the GPT's int8 graphs): on a 2-core CPU the int8 GPT with it is real
   * time, at a cost in agreement with fp32 that README's benchmark states.
   */
  INFERENCE_VOCODER_PRECISION: z.enum(['fp32', 'int8']).default('fp32'),
  /**
   * On CUDA, HiFi-GAN's convolutions in TF32 (tensor cores) through the native addon; every other graph
   * keeps TF32 off, so the GPT's codes are fp32's. Off by default: in TF32 a window padded to its bucket
   * is no longer the unpadded one within 1e-5 (3e-4 apart on an H200, README's benchmark), in fp32 it is.
   */
  INFERENCE_VOCODER_TF32: flag.default(false),
  INFERENCE_VOCODER_SMS: z.coerce.number().int().min(1).max(1024).optional(),
  /**
   * The fixed-shape decode step to prefer through the native addon: `dmmha` (onnxruntime's
   * DecoderMaskedMultiHeadAttention, reading only the KV columns the streams need; where the package has
   * one for this device) or `inplace` (the in-place step over every column).
   */
  INFERENCE_STATIC_STEP: z.enum(['dmmha', 'inplace', 'xattn', 'xattn16']).optional(),
  /**
   * Capture the decode step as CUDA graphs and replay them (the addon runs the step on a thread of its
   * own; the dmmha step gets one graph per bound on the columns it reads): far fewer launches per step.
   * Unset: on with INFERENCE_DEVICE=cuda (where the step runs through the addon); set to 1 it needs
   * INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true; 0 turns it off.
   */
  INFERENCE_STEP_CUDA_GRAPH: flag.optional(),
  /**
   * The package's graphs other than the decode step (HiFi-GAN's sessions, the prefill, the encoders) take
   * their GPU memory from one shared arena instead of one each. Default: on where the addon serves on
   * CUDA (INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true), which setting it to
   * 1 needs; 0 turns it off.
   */
  INFERENCE_SHARED_ARENA: flag.optional(),
  /**
   * The decode step's CUDA stream: `high` runs its kernels on a stream of the device's highest priority,
   * so HiFi-GAN's long convolutions beside it do not hold each of its short kernels back; `normal`
   * (default): onnxruntime's own stream. `high` needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and
   * INFERENCE_BATCH_GRAPH=true.
   */
  INFERENCE_STEP_STREAM_PRIORITY: z.enum(['high', 'normal']).default('normal'),
  /**
   * Prompts of streams that arrive together in one prefill run, at most this many (1: one prefill a
   * prompt). Takes effect where the fixed-shape step runs through the native addon (INFERENCE_NATIVE,
   * INFERENCE_BATCH_GRAPH) and the package has gpt_prefill_batch_fp32 (`xtts.export --batch`).
   */
  INFERENCE_PREFILL_BATCH: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * Voices whose conditioning positions each engine worker keeps on the device, so a prompt's prefill
   * computes only its text (0: none, each prompt in one pass). Takes effect where the fixed-shape step runs
   * through the native addon and the package has gpt_prefill_prefix_fp32 (`xtts.export --batch`).
   */
  INFERENCE_PREFIX_CACHE: z.coerce.number().int().min(0).max(4096).default(0),
  /**
   * Which graph runs a prompt's pass: `trace` (gpt_prefill_<precision>, the traced model) or `fused`
   * (gpt_prefill_fused_fp32 from `xtts.export --batch`: onnxruntime's fused operators, far fewer nodes a run;
   * its numbers are the trace's up to float rounding). Where the package lacks the fused graph, or the
   * precision is not fp32, the traced one runs; the worker's log says which.
   */
  INFERENCE_PREFILL_GRAPH: z.enum(['trace', 'fused']).default('trace'),
  /**
   * More onnxruntime CUDA provider options for the sessions the native addon opens, as a JSON object
   * (e.g. {"cudnn_conv_use_max_workspace": "0", "arena_extend_strategy": "kSameAsRequested"}): memory
   * and speed trade-offs of the CUDA provider. Needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and
   * INFERENCE_BATCH_GRAPH=true; device_id, use_tf32 and enable_cuda_graph are the engine's own.
   */
  INFERENCE_CUDA_OPTIONS: z.string().optional(),
  /** Worker threads of the in-process engine (or a pod's), each with its own sessions. */
  INFERENCE_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * Requests each engine worker generates at once, sharing its one copy of each package; above 1
   * their GPT decode runs advance together (continuous batching, inference/xtts/decode-batcher.ts).
   */
  INFERENCE_STREAMS: z.coerce.number().int().min(1).max(256).default(1),
  /** Generations per decode run at most (default INFERENCE_STREAMS). */
  INFERENCE_BATCH_MAX: z.coerce.number().int().min(1).max(256).optional(),
  /** With INFERENCE_STREAMS above 1: decode them with the package's batched graph (gpt_batch) when it has one. */
  INFERENCE_BATCH_GRAPH: flag.default(false),
  /**
   * The batched decode graph through the native addon (inference/native/, state kept in device memory
   * between runs) instead of onnxruntime-node: on (refused at start when the addon is not built or does
   * not load), auto (when it loads; the log says which), off.
   */
  INFERENCE_NATIVE: z.enum(['auto', 'on', 'off']).default('off'),
  /**
   * Text tokens per sentence at most, below the model's own limit: longer sentences are split, and the
   * fixed-shape decode step holds that many fewer KV positions per stream. Unset: the model's limit.
   */
  INFERENCE_MAX_TEXT_TOKENS: z.coerce.number().int().min(32).max(4096).optional(),
  /**
   * Codes per sentence at most (21.5 codes a second of audio), below the model's own limit (605 for
   * XTTS-v2, 28 s): a sentence's audio ends there, and the fixed-shape decode step holds that many fewer KV
   * positions per stream (240 KiB each at full size in fp32). Unset: the model's limit.
   */
  INFERENCE_MAX_AUDIO_CODES: z.coerce.number().int().min(20).max(100_000).optional(),
  /**
   * Codes in a stream's first chunk (its time to first audio is the prompt's pass, these codes and one
   * HiFi-GAN window); later chunks grow from it. Unset: the engine's default (16 on a CPU, 8 on CUDA).
   */
  INFERENCE_STREAM_FIRST_CODES: z.coerce.number().int().min(1).max(100).optional(),
  INFERENCE_STREAM_DECODE_AHEAD: z.coerce.number().int().min(0).max(8).optional(),
  /**
   * Where HiFi-GAN runs padded to buckets (CUDA): `fill` sizes later streamed chunks so that their windows
   * fill their buckets (8, 10, 26, 58, 122 codes), `grow` by the growth factor alone (8, 12, 18, 27, ...).
   */
  INFERENCE_STREAM_CHUNKS: z.enum(['fill', 'grow']).default('fill'),
  /**
   * HiFi-GAN's input lengths on CUDA, ascending (comma-separated latents): a window is padded to the
   * first that holds it. Unset: the engine's (inference/xtts/hifigan.ts, DEFAULT_BUCKETS).
   */
  INFERENCE_VOCODER_BUCKETS: z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'comma-separated whole numbers')
    .transform((s) => s.split(',').map(Number))
    .refine(
      (b) => b.every((x, i) => x >= 1 && x <= 4096 && (i === 0 || x > (b[i - 1] as number))),
      'each from 1 to 4096, ascending, without repeats',
    )
    .optional(),
  /**
   * With continuous batching on the fixed-shape step: the longest a decode window waits for prompt passes
   * in flight to end before it runs (ms; 0: it never waits), so that a burst's prompts have the device.
   * Unset: the engine's (200 on CUDA, 0 on a CPU).
   */
  INFERENCE_PREFILL_FIRST_MS: z.coerce.number().int().min(0).max(1000).optional(),
  /** Every SECONDS, each engine worker logs where its time went (prefill, decode windows, HiFi-GAN); 0: off. */
  INFERENCE_PROFILE: z.coerce.number().min(0).max(3600).default(0),
  /** onnxruntime threads per engine worker; by default the API leaves one core to its event loop, a pod uses all. */
  INFERENCE_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  /** Requests allowed to wait for the engine (or, with pods, for a free pod); beyond it, 503. */
  INFERENCE_QUEUE: z.coerce.number().int().min(0).max(10_000).default(16),
  /** Model packages each engine worker keeps open, least recently used released first. */
  INFERENCE_MAX_PACKAGES: z.coerce.number().int().min(1).max(64).default(4),
  /** Memory for open packages per engine worker, in MB of graph weights; unset means no limit beyond the count. */
  INFERENCE_PACKAGE_BUDGET_MB: z.coerce.number().int().min(1).optional(),
  /** With pods: requests the API sends to one pod at once. */
  INFERENCE_PER_POD: z.coerce.number().int().min(1).max(256).default(2),
  /**
   * With pods: longest a pod may stay silent, before answering or between two bytes of a stream.
   * Pods answer at once and send a heartbeat every second while a request waits or generates,
   * so this catches a hung pod, never a slow device; hence at least 3 s.
   */
  INFERENCE_TIMEOUT_MS: z.coerce.number().int().min(3000).default(30_000),
  /**
   * Where a CUDA pod claims its device (one pod per GPU, inference/pod/device-claim.ts): a
   * directory every pod on the host sees. Default: the system's temporary directory.
   */
  INFERENCE_LOCK_DIR: z.string().min(1).optional(),
  /** Read, not set: the GPUs this process sees (the pod claims the first, which it uses). */
  CUDA_VISIBLE_DEVICES: z.string().optional(),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  /** Largest JSON request body accepted, in bytes. Uploads have their own limit. */
  MAX_JSON_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Largest upload (multipart audio), in bytes. */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(512 * 1024 * 1024),
  /** Largest dataset upload (long recordings or an LJSpeech archive), in bytes; streamed to storage, never buffered. */
  MAX_DATASET_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(8 * 1024 * 1024 * 1024),
  /**
   * Reverse proxies in front of the server whose X-Forwarded-For is believed: addresses or CIDR
   * ranges, comma-separated (`10.0.0.0/8,::1`). The crowd pages' per-address limits then count
   * the client the nearest untrusted hop names, not the proxy. Unset: no proxy header is believed.
   */
  TRUSTED_PROXIES: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a.length > 0),
    )
    .pipe(z.array(z.string().refine(isAddressOrRange, 'an IP address or a CIDR range (10.0.0.0/8, fd00::/8)')))
    .optional(),
  /**
   * Key that signs the short-lived links the owner pages put in <audio> tags and event streams;
   * random per process when unset, so set the same value on every API replica.
   */
  URL_SECRET: z.string().min(16).optional(),
  /** Job workers (dataset builds, training runs) this process runs; `npm start` runs one by default. */
  JOB_WORKERS: z.coerce.number().int().min(0).max(64).default(1),
  /**
   * Workers for short jobs only (the pre-screen that opens a run's listening test), beside
   * JOB_WORKERS, so that a training run holding every worker does not hold its epochs' tests back.
   */
  JOB_SHORT_WORKERS: z.coerce.number().int().min(0).max(16).default(1),
  /**
   * How long a synthesis request may reuse a recent lookup of its API key, voice and checkpoint (ms; 0:
   * every request queries the database). Changes made through this process are seen at once; with a
   * PostgreSQL server, ones made by other processes (another replica, a job worker, the keys CLI) within
   * this time (db/queries/lookups.ts).
   */
  LOOKUP_MAX_AGE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** How long a worker's claim on a job lasts without a heartbeat; a job of a dead worker is resumed after it. */
  JOB_LEASE_MS: z.coerce.number().int().min(200).max(3_600_000).default(30_000),
  /** Job kinds this process's workers claim, comma-separated (default: all; with TRAINING_LAUNCHER=kubernetes, dataset.build). */
  JOB_KINDS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k.length > 0),
    )
    .pipe(z.array(z.enum(jobKinds)).min(1))
    .optional(),
  /** A worker process exits as soon as a claim finds nothing (a Kubernetes Job's pod, started for one run). */
  WORKER_EXIT_WHEN_IDLE: flag.default(false),
  /** Where training runs execute: `local` (any worker claiming training.run) or `kubernetes` (one Job per run). */
  TRAINING_LAUNCHER: z.enum(['local', 'kubernetes']).default('local'),
  /** The Kubernetes API the launcher creates Jobs through (in a pod: the cluster's own). */
  K8S_API_URL: z.url({ protocol: /^https?$/ }).default('https://kubernetes.default.svc'),
  /** Namespace of the trainer Jobs; default: the pod's own (service-account namespace file), else `default`. */
  K8S_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a DNS-1123 label (lowercase letters, digits, -)')
    .optional(),
  /** Container image of the trainer Jobs (infra/docker/trainer-cuda.Dockerfile); needed with TRAINING_LAUNCHER=kubernetes. */
  K8S_TRAINER_IMAGE: z.string().regex(/^\S+$/, 'an image reference without spaces').optional(),
  /** GPUs each trainer Job asks for (nvidia.com/gpu); its trainer runs one process per GPU. */
  K8S_TRAINER_GPUS: z.coerce.number().int().min(1).max(16).default(1),
  /** The mounted service-account folder: token, ca.crt and namespace of the pod. */
  K8S_SERVICE_ACCOUNT_DIR: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount'),
  /** GPUs one training run uses on this host; above 1 the trainer runs under torchrun with that many processes. */
  TRAINER_GPUS: z.coerce.number().int().min(1).max(16).default(1),
  /** Python interpreter holding torch, for model export and training (default: Debian's /usr/bin/python3 if present). */
  PYTHON: z.string().min(1).optional(),
  /** The Hugging Face hub that `npm run model:pull` downloads XTTS-v2 from. */
  HF_ENDPOINT: z.url({ protocol: /^https?$/ }).default('https://huggingface.co'),
});

/** Every variable the configuration reads. */
export const configVariables: readonly string[] = Object.keys(envSchema.shape);

export type Config = {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  modelDir: string;
  inferenceUrls: string[];
  inference: {
    device: 'cpu' | 'cuda';
    /** Unset: the engine's default (see INFERENCE_PRECISION). */
    precision: 'fp32' | 'fp16' | 'int8' | 'int4' | undefined;
    /** HiFi-GAN in TF32 on CUDA through the native addon (INFERENCE_VOCODER_TF32). */
    vocoderTf32: boolean;
    /** HiFi-GAN's kernels on this many SMs on CUDA through the native addon (INFERENCE_VOCODER_SMS). */
    vocoderSms: number | undefined;
    /** The decode step to prefer (INFERENCE_STATIC_STEP). */
    staticStep: 'dmmha' | 'inplace' | 'xattn' | 'xattn16' | undefined;
    /** The decode step as a CUDA graph (INFERENCE_STEP_CUDA_GRAPH). */
    stepCudaGraph: boolean;
    /** The package's other graphs' GPU memory from one shared arena (INFERENCE_SHARED_ARENA). */
    sharedArena: boolean;
    /** The decode step's CUDA stream priority (INFERENCE_STEP_STREAM_PRIORITY). */
    stepStreamPriority: 'high' | 'normal';
    /** Voices whose conditioning positions are kept (INFERENCE_PREFIX_CACHE); 0: none. */
    prefixCache: number;
    /** The graph of a prompt's pass (INFERENCE_PREFILL_GRAPH). */
    prefillGraph: 'trace' | 'fused';
    /** Prompts a prefill run at most (INFERENCE_PREFILL_BATCH); 1: one a run. */
    prefillBatch: number;
    /** More CUDA provider options for the addon's sessions (INFERENCE_CUDA_OPTIONS); undefined: none. */
    cudaOptions: Record<string, string> | undefined;
    /** HiFi-GAN's precision (INFERENCE_VOCODER_PRECISION). */
    vocoderPrecision: 'fp32' | 'int8';
    workers: number;
    /** Requests per engine worker at once (INFERENCE_STREAMS). */
    streams: number;
    /** Generations per decode run at most; unset: `streams`. */
    batchMax: number | undefined;
    /** Decode with the package's batched graph when it has one. */
    batchGraph: boolean;
    /** The batched decode graph through the native addon (INFERENCE_NATIVE). */
    native: 'auto' | 'on' | 'off';
    /** Text tokens per sentence at most (INFERENCE_MAX_TEXT_TOKENS); undefined: the model's limit. */
    maxTextTokens: number | undefined;
    /** Codes per sentence at most (INFERENCE_MAX_AUDIO_CODES); undefined: the model's limit. */
    maxAudioCodes: number | undefined;
    /** Codes in a stream's first chunk (INFERENCE_STREAM_FIRST_CODES); undefined: the engine's default. */
    streamFirstCodes: number | undefined;
    /** Decode runs a stream reads ahead of its audio (INFERENCE_STREAM_DECODE_AHEAD); undefined: the engine's default. */
    streamDecodeAhead: number | undefined;
    /** How later streamed chunks are sized where HiFi-GAN has buckets (INFERENCE_STREAM_CHUNKS). */
    streamChunks: 'fill' | 'grow';
    /** HiFi-GAN's input lengths on CUDA (INFERENCE_VOCODER_BUCKETS); undefined: the engine's. */
    vocoderBuckets: number[] | undefined;
    /** How long a decode window waits for prompt passes in flight (INFERENCE_PREFILL_FIRST_MS); undefined: the engine's. */
    prefillFirstMs: number | undefined;
    /** Seconds between each worker's `inference: times` lines (INFERENCE_PROFILE); 0: none. */
    profileSeconds: number;
    threads: number | undefined;
    maxPackages: number;
    packageBudgetBytes: number | undefined;
    queue: number;
    perPod: number;
    timeoutMs: number;
    /** Directory of the pods' device claims. */
    lockDir: string;
    /** The CUDA device a pod uses, as CUDA_VISIBLE_DEVICES names it (`0` when unset). */
    cudaDevice: string;
  };
  logLevel: (typeof logLevels)[number];
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  maxDatasetUploadBytes: number;
  python: string | undefined;
  hfEndpoint: string;
  jobWorkers: number;
  jobShortWorkers: number;
  urlSecret: string | undefined;
  /** TRUSTED_PROXIES: addresses and CIDR ranges whose X-Forwarded-For is believed (empty: none). */
  trustedProxies: string[];
  jobLeaseMs: number;
  lookupMaxAgeMs: number;
  jobKinds: JobKind[];
  workerExitWhenIdle: boolean;
  trainingLauncher: 'local' | 'kubernetes';
  trainerGpus: number;
  kubernetes: {
    apiUrl: string;
    namespace: string;
    trainerImage: string | undefined;
    trainerGpus: number;
    serviceAccountDir: string;
  };
};

/** The engine's own CUDA provider options, which INFERENCE_CUDA_OPTIONS may not set. */
const ENGINE_CUDA_OPTIONS = ['device_id', 'use_tf32', 'enable_cuda_graph'];

/** INFERENCE_CUDA_OPTIONS as provider options (names and string values), or what is wrong with it. */
function parseCudaOptions(text: string): Record<string, string> | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'must be a JSON object, e.g. {"cudnn_conv_use_max_workspace": "0"}';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return 'must be a JSON object of option names and values';
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!/^[a-z][a-z0-9_]*$/.test(k)) return `option name ${JSON.stringify(k)} is not a CUDA provider option name`;
    if (ENGINE_CUDA_OPTIONS.includes(k))
      return `${k} is set by the engine (see INFERENCE_VOCODER_TF32, INFERENCE_NATIVE)`;
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean')
      return `option ${k}: the value must be a string, number or boolean`;
    out[k] = typeof x === 'boolean' ? (x ? '1' : '0') : String(x);
  }
  return out;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The one reader of the environment. Everything else receives a `Config`.
 * Empty strings count as unset, so `DATABASE_URL= npm start` means "embedded".
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of configVariables) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  const fail = (issues: { name: string; message: string }[]) => {
    const lines = issues.map(({ name, message }) => `${name}: ${message} (got ${JSON.stringify(input[name])})`);
    return new ConfigError(`Invalid environment variable${lines.length > 1 ? 's' : ''}:\n  ${lines.join('\n  ')}`);
  };
  if (!parsed.success) {
    throw fail(parsed.error.issues.map((i) => ({ name: String(i.path[0] ?? '?'), message: i.message })));
  }
  const e = parsed.data;
  const kubernetes = e.TRAINING_LAUNCHER === 'kubernetes';
  // With the Kubernetes launcher every run gets a Job of its own; a local worker claiming
  // training.run as well would race those Jobs' pods for the runs (and train without a GPU).
  const kinds: JobKind[] = e.JOB_KINDS ?? (kubernetes ? ['dataset.build', 'prescreen.run'] : [...jobKinds]);
  if (kubernetes && kinds.includes('training.run')) {
    throw fail([{ name: 'JOB_KINDS', message: 'must leave out training.run when TRAINING_LAUNCHER=kubernetes' }]);
  }
  if (kubernetes && !e.DATABASE_URL) {
    // The Jobs' pods reach the queue over the network; the embedded database lives in this process.
    throw fail([{ name: 'TRAINING_LAUNCHER', message: 'kubernetes needs DATABASE_URL (a Postgres server)' }]);
  }
  if (kubernetes && !e.K8S_TRAINER_IMAGE) {
    throw fail([{ name: 'K8S_TRAINER_IMAGE', message: 'required when TRAINING_LAUNCHER=kubernetes' }]);
  }
  // Settings that only the native addon's sessions on CUDA take: refused elsewhere rather than ignored.
  // INFERENCE_VOCODER_TF32: through onnxruntime-node the GPT would get the vocoder's TF32 too, and its
  // greedy path would change. INFERENCE_STEP_CUDA_GRAPH: no step runs through the addon on CUDA.
  // INFERENCE_STEP_STREAM_PRIORITY=high, INFERENCE_VOCODER_SMS: only the addon opens a session on a stream
  // of its own.
  // INFERENCE_CUDA_OPTIONS: onnxruntime-node's sessions take no provider options.
  const addonOnCuda = e.INFERENCE_DEVICE === 'cuda' && e.INFERENCE_NATIVE === 'on' && e.INFERENCE_BATCH_GRAPH;
  const addonOnly = (name: string, asked: unknown, what = '') => {
    if (asked && !addonOnCuda)
      throw fail([
        { name, message: `${what}needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true` },
      ]);
  };
  addonOnly('INFERENCE_VOCODER_TF32', e.INFERENCE_VOCODER_TF32);
  addonOnly('INFERENCE_STEP_CUDA_GRAPH', e.INFERENCE_STEP_CUDA_GRAPH);
  addonOnly('INFERENCE_STEP_STREAM_PRIORITY', e.INFERENCE_STEP_STREAM_PRIORITY === 'high', 'high ');
  addonOnly('INFERENCE_VOCODER_SMS', e.INFERENCE_VOCODER_SMS);
  addonOnly('INFERENCE_SHARED_ARENA', e.INFERENCE_SHARED_ARENA);
  const cudaOptions = e.INFERENCE_CUDA_OPTIONS === undefined ? undefined : parseCudaOptions(e.INFERENCE_CUDA_OPTIONS);
  if (typeof cudaOptions === 'string') throw fail([{ name: 'INFERENCE_CUDA_OPTIONS', message: cudaOptions }]);
  addonOnly('INFERENCE_CUDA_OPTIONS', cudaOptions);
  // TF32 changes the GPT's greedy path. The native addon's sessions turn it off per session (use_tf32,
  // xtts/package.ts); onnxruntime-node's sessions take no provider options, so on CUDA it is turned off
  // for the whole process (read when CUDA starts, later), unless set already or the vocoder's TF32 is
  // asked for (which needs the addon's sessions to keep the GPT's off).
  if (env === process.env && e.INFERENCE_DEVICE === 'cuda' && !e.INFERENCE_VOCODER_TF32) cudaFp32WithoutTf32();
  const dataDir = resolve(e.DATA_DIR);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    modelDir: resolve(e.MODEL_DIR ?? `${dataDir}/models`),
    inferenceUrls: e.INFERENCE_URLS ?? [],
    inference: {
      device: e.INFERENCE_DEVICE,
      precision: e.INFERENCE_PRECISION === 'auto' ? undefined : e.INFERENCE_PRECISION,
      vocoderPrecision: e.INFERENCE_VOCODER_PRECISION,
      vocoderTf32: e.INFERENCE_VOCODER_TF32,
      vocoderSms: e.INFERENCE_VOCODER_SMS,
      staticStep: e.INFERENCE_STATIC_STEP,
      stepCudaGraph: e.INFERENCE_STEP_CUDA_GRAPH ?? e.INFERENCE_DEVICE === 'cuda',
      sharedArena: e.INFERENCE_SHARED_ARENA ?? addonOnCuda,
      stepStreamPriority: e.INFERENCE_STEP_STREAM_PRIORITY,
      prefillBatch: e.INFERENCE_PREFILL_BATCH,
      prefixCache: e.INFERENCE_PREFIX_CACHE,
      prefillGraph: e.INFERENCE_PREFILL_GRAPH,
      cudaOptions,
      workers: e.INFERENCE_WORKERS,
      streams: e.INFERENCE_STREAMS,
      batchMax: e.INFERENCE_BATCH_MAX,
      batchGraph: e.INFERENCE_BATCH_GRAPH,
      native: e.INFERENCE_NATIVE,
      profileSeconds: e.INFERENCE_PROFILE,
      maxTextTokens: e.INFERENCE_MAX_TEXT_TOKENS,
      maxAudioCodes: e.INFERENCE_MAX_AUDIO_CODES,
      streamFirstCodes: e.INFERENCE_STREAM_FIRST_CODES,
      streamDecodeAhead: e.INFERENCE_STREAM_DECODE_AHEAD,
      streamChunks: e.INFERENCE_STREAM_CHUNKS,
      vocoderBuckets: e.INFERENCE_VOCODER_BUCKETS,
      prefillFirstMs: e.INFERENCE_PREFILL_FIRST_MS,
      threads: e.INFERENCE_THREADS,
      maxPackages: e.INFERENCE_MAX_PACKAGES,
      packageBudgetBytes:
        e.INFERENCE_PACKAGE_BUDGET_MB === undefined ? undefined : e.INFERENCE_PACKAGE_BUDGET_MB * 1024 * 1024,
      queue: e.INFERENCE_QUEUE,
      perPod: e.INFERENCE_PER_POD,
      timeoutMs: e.INFERENCE_TIMEOUT_MS,
      lockDir: resolve(e.INFERENCE_LOCK_DIR ?? tmpdir()),
      cudaDevice:
        e.CUDA_VISIBLE_DEVICES?.split(',')
          .map((d) => d.trim())
          .find((d) => d.length > 0) ?? '0',
    },
    logLevel: e.LOG_LEVEL,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    maxDatasetUploadBytes: e.MAX_DATASET_UPLOAD_BYTES,
    python: e.PYTHON,
    hfEndpoint: e.HF_ENDPOINT.replace(/\/$/, ''),
    jobWorkers: e.JOB_WORKERS,
    jobShortWorkers: e.JOB_SHORT_WORKERS,
    urlSecret: e.URL_SECRET,
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    jobLeaseMs: e.JOB_LEASE_MS,
    lookupMaxAgeMs: e.LOOKUP_MAX_AGE_MS,
    jobKinds: kinds,
    workerExitWhenIdle: e.WORKER_EXIT_WHEN_IDLE,
    trainingLauncher: e.TRAINING_LAUNCHER,
    trainerGpus: e.TRAINER_GPUS,
    kubernetes: {
      apiUrl: e.K8S_API_URL.replace(/\/$/, ''),
      namespace: e.K8S_NAMESPACE ?? podNamespace(e.K8S_SERVICE_ACCOUNT_DIR) ?? 'default',
      trainerImage: e.K8S_TRAINER_IMAGE,
      trainerGpus: e.K8S_TRAINER_GPUS,
      serviceAccountDir: e.K8S_SERVICE_ACCOUNT_DIR,
    },
  };
}

/** In a pod, the namespace it runs in: Kubernetes mounts it beside the service-account token. */
function podNamespace(serviceAccountDir: string): string | undefined {
  const file = join(serviceAccountDir, 'namespace');
  if (!existsSync(file)) return undefined;
  return readFileSync(file, 'utf8').trim() || undefined;
}

/**
 * The environment for a child process: this process's own (PATH, HOME, locale) plus `extra`.
 * Kept here so that this module stays the only reader of the environment.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { ...process.env, ...extra };
}

/**
 * fp32 without TF32 for onnxruntime-node's sessions on CUDA (loadConfig's, and a tool's that compares them
 * with the native addon's): they take no per-session setting, so TF32 goes off for the whole process
 * (NVIDIA_TF32_OVERRIDE=0, read when CUDA starts), unless the environment already says. Returns whether it
 * was turned off here.
 */
export function cudaFp32WithoutTf32(): boolean {
  if (process.env.NVIDIA_TF32_OVERRIDE !== undefined) return false;
  process.env.NVIDIA_TF32_OVERRIDE = '0';
  return true;
}
