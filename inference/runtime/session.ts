// The one place in the project that imports onnxruntime-node. It opens sessions (CPU by default,
// CUDA when asked), checks feeds against the graph's declared inputs before running, and turns a
// failed run into an error that lists the shapes that were fed.
import ort from 'onnxruntime-node';

// onnxruntime-common stores float16 data in a Float16Array when the JavaScript engine has one (Node 24
// does), but onnxruntime-node 1.29's native binding cannot read a Float16Array and fails with "not
// enough space: expected N, got 0". The type map is built once, on the first Tensor; building it while
// Float16Array is hidden makes float16 tensors keep their bits in a Uint16Array, which the binding reads.
{
  const g = globalThis as { Float16Array?: unknown };
  const saved = g.Float16Array;
  if (saved !== undefined) {
    delete g.Float16Array;
    try {
      new ort.Tensor('float32', new Float32Array(1), [1]);
    } finally {
      g.Float16Array = saved;
    }
  }
}

export type Device = 'cpu' | 'cuda';
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';
export type Tensor = ort.Tensor;
export type Feeds = Record<string, ort.Tensor>;

export interface SessionOptions {
  device?: Device;
  deviceId?: number;
  intraOpThreads?: number;
  /**
   * onnxruntime's CPU memory arena (on by default). Off, a tensor freed after a run goes back to the
   * allocator instead of staying reserved for the session, so resident memory follows what the session
   * holds now rather than the largest run it ever made (the GPT's growing KV cache).
   */
  cpuMemArena?: boolean;
  /** onnxruntime session configuration entries (names as in onnxruntime_session_options_config_keys.h). */
  config?: Readonly<Record<string, string>>;
}

export interface ValueInfo {
  name: string;
  dtype: string;
  shape: ReadonlyArray<number | string>;
}

export class RuntimeError extends Error {
  readonly graph: string;
  constructor(graph: string, message: string) {
    super(`${graph}: ${message}`);
    this.name = 'RuntimeError';
    this.graph = graph;
  }
}

export interface Session {
  readonly path: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  run(feeds: Feeds): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

function info(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, dtype: m.type, shape: m.shape } : { name: m.name, dtype: '?', shape: [] },
  );
}

/** Returns the problems with a feed (empty when it fits): missing or extra names, wrong dtypes,
 * wrong rank or wrong fixed dimensions. Symbolic dimensions accept any size. */
export function checkFeeds(inputs: readonly ValueInfo[], feeds: Feeds): string[] {
  const problems: string[] = [];
  for (const want of inputs) {
    const got = feeds[want.name];
    if (!got) {
      problems.push(`missing input '${want.name}' (${want.dtype} [${want.shape.join(', ')}])`);
      continue;
    }
    if (want.dtype !== '?' && got.type !== want.dtype)
      problems.push(`'${want.name}' is ${got.type}, graph wants ${want.dtype}`);
    if (want.shape.length > 0 || got.dims.length === 0) {
      const fixedMismatch = want.shape.some((d, i) => typeof d === 'number' && d > 0 && got.dims[i] !== d);
      if (got.dims.length !== want.shape.length || fixedMismatch)
        problems.push(`'${want.name}' has shape [${got.dims.join(', ')}], graph wants [${want.shape.join(', ')}]`);
    }
  }
  const known = new Set(inputs.map((i) => i.name));
  for (const name of Object.keys(feeds)) if (!known.has(name)) problems.push(`unknown input '${name}'`);
  return problems;
}

export function describeFeeds(feeds: Feeds): string {
  return Object.entries(feeds)
    .map(([k, t]) => `${k}: ${t.type} [${t.dims.join(', ')}]`)
    .join('; ');
}

export async function openSession(path: string, options: SessionOptions = {}): Promise<Session> {
  const providers: ort.InferenceSession.ExecutionProviderConfig[] =
    options.device === 'cuda' ? [{ name: 'cuda', deviceId: options.deviceId ?? 0 }] : ['cpu'];
  let s: ort.InferenceSession;
  try {
    s = await ort.InferenceSession.create(path, {
      executionProviders: providers,
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
      ...(options.cpuMemArena === false ? { enableCpuMemArena: false } : {}),
      ...(options.config ? { extra: { ...options.config } } : {}),
    });
  } catch (e) {
    throw new RuntimeError(path, `could not open on ${options.device ?? 'cpu'}: ${(e as Error).message}`);
  }
  const inputs = info(s.inputMetadata);
  const outputs = info(s.outputMetadata);
  return {
    path,
    inputs,
    outputs,
    run: (feeds) => checkedRun(path, inputs, feeds, () => s.run(feeds)),
    release: () => s.release(),
  };
}

/**
 * A run of the graph at `path` as every Session here does it, whatever runs it (onnxruntime-node, or
 * the native addon: native/host-session.ts): feeds checked against the inputs first (RuntimeError
 * naming each problem), and a failed run's error naming the graph and the feeds' types and shapes.
 */
export async function checkedRun<R>(
  path: string,
  inputs: readonly ValueInfo[],
  feeds: Feeds,
  run: () => Promise<R>,
): Promise<R> {
  const problems = checkFeeds(inputs, feeds);
  if (problems.length > 0) throw new RuntimeError(path, `bad feeds: ${problems.join('; ')}`);
  try {
    return await run();
  } catch (e) {
    throw new RuntimeError(path, `run failed with feeds {${describeFeeds(feeds)}}: ${(e as Error).message}`);
  }
}

/** Makes a tensor; int64 data may be given as numbers. */
export function tensor(dtype: DType, data: ArrayLike<number> | ArrayLike<bigint>, dims: readonly number[]): ort.Tensor {
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(data as ArrayLike<number>), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(data as ArrayLike<number>), dims);
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(Array.from(data as ArrayLike<number | bigint>, (v) => BigInt(v))),
        dims,
      );
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(data as ArrayLike<number>), dims);
    case 'float16':
      return new ort.Tensor('float16', Uint16Array.from(data as ArrayLike<number>), dims);
  }
}

/** Wraps a typed array as a tensor without copying (float16 data as the bits, in a Uint16Array). */
export function tensorOf(
  dtype: DType,
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array,
  dims: readonly number[],
): ort.Tensor {
  const want = {
    float32: Float32Array,
    int32: Int32Array,
    int64: BigInt64Array,
    bool: Uint8Array,
    float16: Uint16Array,
  }[dtype];
  if (!(data instanceof want)) throw new TypeError(`tensorOf: ${dtype} data must be a ${want.name}`);
  return new ort.Tensor(dtype, data as never, dims);
}

/** Wraps raw little-endian bytes (e.g. a .bin written by the exporter) as a tensor without copying. */
export function tensorFromBytes(dtype: DType, bytes: Uint8Array, dims: readonly number[]): ort.Tensor {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(buf), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(buf), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(buf), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(buf), dims);
    case 'float16':
      return new ort.Tensor('float16', new Uint16Array(buf), dims);
  }
}
