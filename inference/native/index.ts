/**
 * Typed face of ort_device.node (ort_device.cc, built by build.sh): onnxruntime sessions whose
 * tensors can stay in device memory between runs. onnxruntime-node returns every output in host
 * memory; here an output bound to the device comes back as a DeviceTensor that the next run takes as
 * an input without a copy (see README.md).
 *
 * `run()` is asynchronous: onnxruntime runs on a libuv pool thread, the calling thread is free.
 * `upload`, `download` and `alloc` with data are synchronous (a copy, on CUDA through a small
 * onnxruntime run): keep them off the HTTP event loop as the engine keeps every run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';

export type TensorType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8' | 'float64';

/** The typed array of each element type (float16 as its bits). */
export type TypedArrayOf = {
  float32: Float32Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
  float64: Float64Array;
};
export type AnyTypedArray = TypedArrayOf[TensorType];

/** A tensor in host memory, as a run returns one. */
export interface HostTensor {
  readonly type: TensorType;
  readonly dims: readonly number[];
  readonly data: AnyTypedArray;
}

/** A host tensor as a run input (an onnxruntime-node Tensor is one): `data` must be the type's typed array. */
export interface HostInput {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** A tensor in its session's device memory (CUDA, or host memory for a CPU session). */
export interface DeviceTensor {
  readonly type: TensorType;
  readonly dims: number[];
  readonly device: 'cpu' | 'cuda';
  /** True after `release()`: any further use throws ERR_NATIVE_RELEASED. */
  readonly released: boolean;
  /** Where its first element is (device or host memory): for checks that a buffer stays in place. */
  readonly address: bigint;
  /**
   * Overwrites the tensor with `data` (same type and element count), or with `offset`, elements
   * [offset, offset + data.length) of it in row-major order (e.g. one row of a [S, ...] tensor).
   */
  upload(data: AnyTypedArray, range?: { offset: number }): void;
  /**
   * The tensor's contents in a new typed array, or in `into` (same type and element count); with
   * `range`, elements [offset, offset + length) only (into's length when `into` is given; length
   * defaults to the rest of the tensor).
   */
  download<A extends AnyTypedArray>(into?: A): A;
  download<A extends AnyTypedArray>(into: A, range: { offset: number }): A;
  download(range: { offset?: number; length?: number }): AnyTypedArray;
  /**
   * Elements [offset, offset + product(dims)) as a tensor of shape `dims` over the same memory (no
   * copy), e.g. layer i of a [L, ...] state for a graph that takes each layer as an input of its own.
   * Writes through either are seen by the other; the memory lives until both are released.
   */
  view(offset: number, dims: readonly number[]): DeviceTensor;
  /** Gives the memory back now (a finalizer does it at garbage collection otherwise). */
  release(): void;
}

export interface ValueInfo {
  name: string;
  /** Element type, or '?' for a non-tensor. */
  type: string;
  /** Fixed sizes as numbers, symbolic ones by name. */
  shape: (number | string)[];
}

export interface DeviceSessionOptions {
  device?: 'cpu' | 'cuda';
  deviceId?: number;
  /** Intra-op threads (onnxruntime's default when absent). */
  threads?: number;
  /** CUDA provider option enable_cuda_graph: needs fixed input/output addresses and shapes, every node on CUDA. */
  cudaGraph?: boolean;
  /** onnxruntime's CPU memory arena (on by default). */
  cpuMemArena?: boolean;
  /** Session configuration entries (onnxruntime_session_options_config_keys.h). */
  config?: Readonly<Record<string, string>>;
  /** More CUDA provider options (names as in onnxruntime's CUDA provider, e.g. arena_extend_strategy). */
  providerOptions?: Readonly<Record<string, string>>;
  /**
   * On CUDA, the device memory from one arena per device shared by every session opened so (onnxruntime's
   * environment allocators, growing by what is asked) instead of an arena of the session's own.
   */
  sharedArena?: boolean;
  /**
   * Sizes of the graph's symbolic dimensions, by name (onnxruntime's free-dimension overrides, fixed
   * when the session opens): the inputs then declare those sizes and tensors of other sizes are
   * refused. Names the graph does not have are ignored, as onnxruntime ignores them.
   */
  dims?: Readonly<Record<string, number>>;
  /**
   * onnxruntime's profiling of the session's runs (each run, and each node's time on the thread that ran
   * it), written to a JSON file whose name starts with this prefix when `endProfiling()` is called.
   */
  profile?: string;
  /** What errors call the graph (default: its path, or "(graph in memory)" for bytes). */
  name?: string;
  /** What nativeMemory() calls the session (default: the graph file's name, or `name`). */
  label?: string;
  /**
   * Copies host <-> session memory, and allocates tensors, through runs of a one-node onnxruntime
   * graph (on CUDA the fallback of the runtime's own copies, and of allocation where the session's
   * allocator cannot be had), also on CPU, where a memcpy and the CPU allocator do otherwise: lets those
   * paths be tested on a CPU-only host, and keeps a CUDA session's copies off the runtime's.
   */
  copyWithGraph?: boolean;
  /**
   * Every run and binding run of the session on one thread of its own (implied by `cudaGraph`):
   * onnxruntime's CUDA provider keeps a captured CUDA graph per thread, so runs spread over libuv's
   * pool would capture one on every pool thread, and a capture beside another session's run makes
   * both fail. The pool thread that takes a run waits for it there.
   */
  ownThread?: boolean;
  /**
   * On CUDA, 'high': the session's kernels go to a CUDA stream of its own at the device's highest
   * priority (onnxruntime's `user_compute_stream`), so where other sessions' long kernels keep the device
   * busy, its blocks get the SMs first as they free up; 'normal' (default): onnxruntime's own stream.
   */
  streamPriority?: 'high' | 'normal';
  /**
   * On CUDA, the session's kernels on this many of the device's SMs only (at least; the driver rounds up to
   * its partition size): a stream of its own in a CUDA green context (the driver's, CUDA 12.4+), so other
   * sessions' kernels always find the remaining SMs free. Memory is shared as usual. Not with `cudaGraph`
   * or `streamPriority`.
   */
  smCount?: number;
}

/**
 * Device tensors bound once to a session's inputs and outputs, run any number of times with the same
 * onnxruntime IoBinding (session.bind). An output may be bound to the tensor of an input: the graph
 * updates it in place. On a session opened with `cudaGraph`, each binding gets its own CUDA graph
 * (onnxruntime's gpu_graph_id), captured on an early run and replayed after: the tensors' addresses
 * never change, which is what a replay needs.
 */
export interface DeviceBinding {
  /** Runs the session `times` times (default 1) back to back on a pool thread. */
  run(times?: number): Promise<void>;
  /** Whether a run is in flight (a second is refused with ERR_NATIVE_BUSY). */
  readonly running: boolean;
  /** The CUDA graph's gpu_graph_id on a `cudaGraph` session, else -1. */
  readonly graphId: number;
  /** Drops the binding (its tensors stay the caller's). */
  release(): void;
}

/** Where an output goes: left in device memory, brought to host memory, or written into a given tensor. */
export type OutputPlace = 'device' | 'cpu' | DeviceTensor;
type Placed<P> = P extends 'cpu' ? HostTensor : DeviceTensor;

type NativeSession = {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  readonly device: 'cpu' | 'cuda';
  readonly sms: [number, number] | null;
  alloc(type: string, dims: readonly number[], data?: AnyTypedArray): DeviceTensor;
  allocHost(type: string, dims: readonly number[], data?: AnyTypedArray): DeviceTensor;
  run(
    inputs: Readonly<Record<string, DeviceTensor | HostInput>>,
    outputs: Record<string, OutputPlace>,
  ): Promise<object>;
  bind(inputs: Readonly<Record<string, DeviceTensor>>, outputs: Readonly<Record<string, DeviceTensor>>): DeviceBinding;
  readonly runThreads: number;
  memoryStats(): Record<string, number>;
  endProfiling(): string;
  release(): void;
};
type NativeModule = {
  Session: new (path: string | Uint8Array, options: DeviceSessionOptions) => NativeSession;
  Tensor: abstract new () => DeviceTensor;
  ortVersion: string;
  apiVersion: number;
  copyPath(): 'runtime' | 'graph' | 'unchecked';
  copyBlocks(items: CopyBlocksItem[]): boolean;
};

/** The built addon's path. */
export const NATIVE_ADDON = join(import.meta.dirname, 'build', 'ort_device.node');

let loaded: { module: NativeModule } | { error: string } | null = null;

function load(): { module: NativeModule } | { error: string } {
  if (loaded) return loaded;
  if (!existsSync(NATIVE_ADDON))
    loaded = { error: `not built: ${NATIVE_ADDON} is missing (npm run build:native; needs g++)` };
  else
    try {
      loaded = { module: createRequire(import.meta.url)(NATIVE_ADDON) as NativeModule };
    } catch (e) {
      loaded = { error: `could not load ${NATIVE_ADDON}: ${(e as Error).message}` };
    }
  return loaded;
}

function native(): NativeModule {
  const l = load();
  if ('error' in l) throw new NativeUnavailableError(l.error);
  return l.module;
}

export class NativeUnavailableError extends Error {
  readonly code = 'ERR_NATIVE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'NativeUnavailableError';
  }
}

/**
 * The CUDA kernel of the ai.xtts DecodeAttention operators (decode_attention.cu), built beside the addon
 * where build:native found nvcc: without it the gpt_step_static_xattn steps run on the CPU only.
 */
export const NATIVE_ATTENTION_KERNEL = join(import.meta.dirname, 'build', 'decode_attention.fatbin');

/** Whether the addon's DecodeAttention operators have their CUDA kernel (NATIVE_ATTENTION_KERNEL). */
export function nativeCudaAttention(): boolean {
  return existsSync(NATIVE_ATTENTION_KERNEL);
}

/** Whether the addon can be used here, and why not when it cannot (not built, failed to load). */
export function nativeAvailable(): { ok: true; ortVersion: string } | { ok: false; reason: string } {
  const l = load();
  return 'error' in l ? { ok: false, reason: l.error } : { ok: true, ortVersion: l.module.ortVersion };
}

/**
 * How the addon copies between host and CUDA memory in this process: 'runtime' (libcudart's
 * cudaMemcpyAsync on a stream of its own: the copy engines; its first copy was checked byte for byte
 * against a graph run's), 'graph' (runs of a one-node graph: the runtime's calls are not there or failed
 * that check), 'unchecked' (no such copy yet, or not on CUDA); null where the addon is not loaded.
 */
export function nativeCopyPath(): 'runtime' | 'graph' | 'unchecked' | null {
  return loaded && 'module' in loaded ? loaded.module.copyPath() : null;
}

/**
 * One item of copyBlocks: rows of `src`'s elements into `dst`. `src` is a device tensor of dst's device and
 * type, or a typed array of its type (host memory); `blocks` holds sextuples (dstOffset, dstPitch,
 * srcOffset, srcPitch, width, rows) in elements: for r < rows, elements [dstOffset + r * dstPitch, + width)
 * of dst become src's [srcOffset + r * srcPitch, + width).
 */
export type CopyBlocksItem = [dst: DeviceTensor, src: DeviceTensor | AnyTypedArray, blocks: Float64Array];

/**
 * Copies every item's rows, all checked before any is copied (errors as the tensors' own: ERR_NATIVE_ARGUMENT
 * naming the item and block, ERR_NATIVE_BUSY, ERR_NATIVE_RELEASED). On CUDA the runtime's cudaMemcpy2DAsync
 * on the addon's copy stream (the copy engines, beside other sessions' kernels) and one wait for them all;
 * on a CPU session memmove. False, and nothing copied, where the runtime copy is not this process's copy
 * path (`nativeCopyPath()` other than 'runtime': not checked yet, or broken): the caller takes another way.
 */
export function copyBlocks(items: readonly CopyBlocksItem[]): boolean {
  return native().copyBlocks(items as CopyBlocksItem[]);
}

/** Whether `x` is a tensor of the addon (live or released). */
export function isDeviceTensor(x: unknown): x is DeviceTensor {
  const l = load();
  return 'module' in l && x instanceof l.module.Tensor;
}

/**
 * An onnxruntime session of the addon. Errors are Errors with a `code`: ERR_ORT_<onnxruntime's code>
 * (the message is onnxruntime's, prefixed with the graph's path), ERR_NATIVE_ARGUMENT (a bad argument,
 * named), ERR_NATIVE_RELEASED (a released tensor, session or binding), ERR_NATIVE_BUSY (a tensor a run
 * in flight uses, copied from or to the host; a binding run while it runs).
 */
export class DeviceSession {
  readonly path: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly device: 'cpu' | 'cuda';
  /** The options it was opened with. */
  readonly options: Readonly<DeviceSessionOptions>;
  private readonly s: NativeSession;
  /** Its entry in liveSessions: weak, so a session dropped without release() is still collected. */
  private readonly live = new WeakRef(this);

  /** With `smCount`: [SMs its partition got, SMs of the device]; else null. */
  get sms(): readonly [number, number] | null {
    return this.s.sms;
  }

  private constructor(path: string, s: NativeSession, options: DeviceSessionOptions) {
    this.path = path;
    this.s = s;
    this.options = { ...options };
    this.inputs = s.inputs;
    this.outputs = s.outputs;
    this.device = s.device;
  }

  /**
   * A small graph built in memory (a ModelProto's bytes), opened on `beside`'s device with its provider
   * options and one thread: the graphs a driver runs next to its main session (`what` names it in errors).
   */
  static openBeside(beside: DeviceSession, graph: Uint8Array, what: string): DeviceSession {
    const { device, deviceId, providerOptions } = beside.options;
    return DeviceSession.open(graph, {
      ...(device ? { device } : {}),
      ...(deviceId !== undefined ? { deviceId } : {}),
      ...(providerOptions ? { providerOptions } : {}),
      threads: 1,
      name: `${beside.path} (${what})`,
    });
  }

  /**
   * Opens the graph at `path`, or the serialised ModelProto `model` (synchronously: onnxruntime loads
   * and optimises the graph on this thread).
   */
  static open(model: string | Uint8Array, options: DeviceSessionOptions = {}): DeviceSession {
    const name = typeof model === 'string' ? model : (options.name ?? '(graph in memory)');
    const s = new DeviceSession(name, new (native().Session)(model, options), options);
    liveSessions.add(s.live);
    return s;
  }

  /**
   * The statistics of the allocator its activations, outputs and `alloc`ed tensors take memory from, as
   * onnxruntime keeps them (bytes and counts: on CUDA its arena's InUse, TotalAllocated, MaxInUse,
   * NumAllocs, NumArenaExtensions, MaxAllocSize ...; on CPU with `cpuMemArena` its CPU arena's); {} for an
   * allocator that keeps none.
   */
  memoryStats(): Record<string, number> {
    return this.s.memoryStats();
  }

  /** With `profile`: ends onnxruntime's profiling and answers the path of the JSON file it wrote. */
  endProfiling(): string {
    return this.s.endProfiling();
  }

  /** A tensor in the session's device memory: zero-filled, or holding `data`. */
  alloc<T extends TensorType>(type: T, dims: readonly number[], data?: TypedArrayOf[T]): DeviceTensor {
    return this.s.alloc(type, dims, data);
  }

  /**
   * A tensor in host memory (zero-filled, or holding `data`) that a binding may take as an input: for
   * an input the graph reads on the host (an operator's CPU input, e.g. DecoderMaskedMultiHeadAttention's
   * past_sequence_length) an `upload` between runs changes what the next run reads; an input the graph
   * reads on the device is copied there by every run. Not for a binding's outputs. With `cudaGraph`, a
   * binding's captured graph replays the value it was captured with: give each value a binding of its own
   * (as StaticGpt does for the dmmha step's bounds) rather than uploading another.
   */
  allocHost<T extends TensorType>(type: T, dims: readonly number[], data?: TypedArrayOf[T]): DeviceTensor {
    return this.s.allocHost(type, dims, data);
  }

  /**
   * One run with an IoBinding. Inputs: device tensors (no copy) or host tensors (copied in by
   * onnxruntime). Outputs named in `outputs` only, each 'device' (onnxruntime allocates it on the
   * device: the result is a new DeviceTensor), 'cpu' (a host tensor) or a DeviceTensor of the right
   * shape to write into (returned as it is).
   */
  async run<O extends Record<string, OutputPlace>>(
    inputs: Readonly<Record<string, DeviceTensor | HostInput>>,
    outputs: O,
  ): Promise<{ [K in keyof O]: Placed<O[K]> }> {
    return (await this.s.run(inputs, outputs)) as { [K in keyof O]: Placed<O[K]> };
  }

  /**
   * Binds device tensors to the graph's inputs (all of them) and to outputs, for repeated runs:
   * `await b.run(times)`. An output bound to the tensor of an input is written in place (the
   * graph must write it only after its last read of the input, or element by element). Inputs are
   * checked as run() checks them; host tensors are refused (a run reads its inputs where they are).
   * While a run of it is in flight its tensors refuse upload and download (ERR_NATIVE_BUSY).
   */
  bind(inputs: Readonly<Record<string, DeviceTensor>>, outputs: Readonly<Record<string, DeviceTensor>>): DeviceBinding {
    return this.s.bind(inputs, outputs);
  }

  /** How many threads its runs have run on so far (1 with `ownThread` or `cudaGraph`, once it has run). */
  get runThreads(): number {
    return this.s.runThreads;
  }

  /** Closes the session; tensors it allocated stay valid until they are released. */
  release(): void {
    liveSessions.delete(this.live);
    this.s.release();
  }
}

/** A session's arena statistics; `shared`: the arena is the one its sessions opened with sharedArena share. */
type SessionMemory = { label: string; device: 'cpu' | 'cuda'; shared: boolean; stats: Record<string, number> };

/** The addon's open sessions in this thread (nativeMemory), held weakly. */
const liveSessions = new Set<WeakRef<DeviceSession>>();

/**
 * Each open session of this thread with what its allocator holds (memoryStats), by its label (the
 * `label` option, else the graph file's name): where a worker's device memory is, while it serves.
 */
export function nativeMemory(): SessionMemory[] {
  const out: SessionMemory[] = [];
  for (const ref of liveSessions) {
    const s = ref.deref();
    if (!s) liveSessions.delete(ref);
    else
      out.push({
        label: s.options.label ?? basename(s.path),
        device: s.device,
        shared: s.options.sharedArena === true && s.device === 'cuda',
        stats: s.memoryStats(),
      });
  }
  return out;
}
