/**
 * The batched decode through the fixed-shape decode step (`gpt_step_static_*`, the trainer's
 * export/static_step.py): S slots whose whole state (KV cache [L, S, H, M, dh], logits, latent, seen,
 * positions, lengths, done flags, the chunk's codes and latents) lives in device tensors allocated once
 * and bound to the step as input X and output X_out (one buffer, updated in place). Each step runs the
 * same IoBinding on the same addresses, so on CUDA onnxruntime can capture it as a CUDA graph
 * (`cudaGraph`) and replay it every step, and memory stays flat.
 *
 * The driver has the `BatchedDriver` shape (xtts/decode-batcher.ts) that DeviceBatchedGpt has:
 * - `join(cache)` takes a sequence (a prefill's batch-1 cache, in host memory or with its keys and
 *   values in device memory, a GptKvCache `onDevice`) and gives it a free
 *   slot; its state is written there on the device (the slot graph, slot-graph.ts: its K/V into
 *   columns [0, P) of the slot's rows, its logits, latent, seen, position, length = P, done = false)
 *   by the next `decode`, which is where every device write happens.
 * - `decode(requests)` runs the named members by up to their uniforms' length each: per chunk of up to
 *   N steps it uploads the uniforms, step limits and sampling settings, sets iter = 0, runs the step
 *   back to back (reading `done` every `checkEvery` steps to stop once every row has), then reads the
 *   codes and latents back. Members not named sit it out (their rows are inactive and unchanged).
 * - `drop(id)` frees the slot (the next decode marks it done).
 *
 * Each row's arithmetic is the Loop's (gpt_batch_*) for that row, so the codes are those of the
 * batched path (xtts/batch.ts) for the same prompts, uniforms and settings.
 */
import { recordPhase } from '../engine/phase-times.ts';
import { tensorOf } from '../runtime/index.ts';
import type { BatchDims } from '../xtts/batch.ts';
import type { DecodeSettings } from '../xtts/gpt.ts';
import { type CacheParts, type DecodeResult, GptKvCache, isHostTensor, releaseDeviceKv } from '../xtts/gpt.ts';
import {
  type AnyTypedArray,
  copyBlocks,
  type DeviceBinding,
  DeviceSession,
  type DeviceSessionOptions,
  type DeviceTensor,
  type HostInput,
  type HostTensor,
} from './index.ts';
import { type KLayout, slotReadGraph, slotWriteGraph } from './slot-graph.ts';

/**
 * StaticGpt's errors, with a stable `code`: ERR_STATIC_GRAPH (not a fixed-shape step, or its dims not
 * fixed), ERR_STATIC_CACHE (a joining cache of another shape or type), ERR_STATIC_FULL (no free slot),
 * ERR_STATIC_TOO_LONG (more positions than max_len), ERR_STATIC_MEMBER (an unknown or repeated
 * member), ERR_STATIC_CLOSED (used after close).
 */
export class StaticDecodeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'StaticDecodeError';
    this.code = code;
  }
}

/** The step's state (input X, output X_out) and the inputs written between chunks. */
const STATE = ['cache_k', 'cache_v', 'logits', 'latent', 'seen', 'pos', 'length', 'done', 'iter', 'codes', 'latents'];
const CONTROL = ['uniforms', 'steps', 'temperature', 'top_k', 'top_p', 'repetition_penalty'];
const KV = ['cache_k', 'cache_v'];
/** A layered step's per-layer cache input: its K or V and its layer. */
const LAYER_INPUT = /^(cache_[kv])_(\d+)$/;
/** A DecoderMaskedMultiHeadAttention step's per-layer present output (the same buffer as the layer's cache). */
const PRESENT = /^(cache_[kv])_(\d+)_present$/;
/** That step's bound on the columns it reads (kv_past, int32 [1], host memory) and kv_past + 1 (int64 scalar). */
const BOUND = ['kv_past', 'kv_total'];
/**
 * The dmmha step's bounds are multiples of this many columns (or M - 1): one binding per bound, each with
 * its own host tensors holding it, so no bound is ever rewritten and each binding can be captured as a
 * CUDA graph of its own; a row's attention reads at most this many columns more than it needs.
 */
export const BOUND_STEP = 64;

export type StaticSizes = { slots: number; maxLen: number; chunk: number };

/**
 * `cache` with its keys and values in `session`'s device memory (copied there, of their own type, where they
 * lie in host memory), as a prefill run through the addon leaves them: the bench and the tests join such
 * caches, which StaticGpt writes into a slot by copies.
 */
export function cacheOnDevice(session: DeviceSession, cache: GptKvCache): GptKvCache {
  const p = cache.parts();
  const up = (t: CacheParts['past_k']) =>
    isHostTensor(t) ? session.alloc(t.type as 'float32', [...t.dims], t.data as Float32Array) : t;
  return new GptKvCache({ ...p, past_k: up(p.past_k), past_v: up(p.past_v) });
}

/**
 * The KV length (max_len) a step needs for rows of up to `positions`: one column more for a dmmha step,
 * whose rows hold max_len - 1 (StaticGpt.capacity).
 */
export function stepMaxLen(positions: number, dmmha: boolean): number {
  return positions + (dmmha ? 1 : 0);
}

/** The batched graph's dims (xtts/batch.ts) and the sizes fixed when the step opens. */
export type StaticDims = BatchDims &
  StaticSizes & {
    /**
     * The step takes each layer's cache as an input of its own (cache_k_0 ... [S, H, M, dh], and
     * cache_k_0_out ...), so each layer's attention reads and writes it in place; the driver still holds
     * one [L, S, H, M, dh] tensor per K and V and binds views of its layers.
     */
    layered: boolean;
    /**
     * The step's attention is DecoderMaskedMultiHeadAttention (gpt_step_static_dmmha): it reads columns
     * [0, kv_past] of each row, a bound the driver gives each chunk, and a row holds at most M - 1 positions.
     */
    dmmha: boolean;
    /** K's layout in the cache (slot-graph.ts KLayout): `ft` for a dmmha step exported for CUDA. */
    kLayout: KLayout;
  };

export type StaticStats = {
  /** Members in the last decode. */
  batch: number;
  /** Steps the last decode ran (over all its chunks). */
  steps: number;
  /** Chunks it ran. */
  chunks: number;
  /** Members written into their slots before it. */
  joined: number;
};

type Member = {
  slot: number;
  /** KV columns it holds. */
  length: number;
  /** Audio position of its next code. */
  pos: bigint;
  promptLength: number;
  /** Its keys' and values' type as joined (an fp16 step takes fp32 ones and gives them back as such). */
  kvFrom: 'float32' | 'float16';
  /**
   * Its state until the next decode writes it into the slot: in host memory, or with the keys and
   * values in device memory (a prefill through the addon), released once written.
   */
  pending: CacheParts | null;
};

type Request = { id: number; uniforms: Float32Array; settings: DecodeSettings };

/** The step's sizes from its declared inputs: an error naming `path` when it is not one, or a dim is not fixed. */
export function staticDims(path: string, inputs: DeviceSession['inputs']): StaticDims {
  const input = (name: string) => {
    const i = inputs.find((x) => x.name === name);
    if (!i)
      throw new StaticDecodeError('ERR_STATIC_GRAPH', `${path}: not a fixed-shape decode step (no input ${name})`);
    return i;
  };
  // The cache as one input [L, S, H, M, dh], or one input per layer (cache_k_0, ...: [S, H, M, dh]).
  const layered = !inputs.some((x) => x.name === 'cache_k') && inputs.some((x) => x.name === 'cache_k_0');
  for (const n of [...STATE, ...CONTROL]) if (!(layered && KV.includes(n))) input(n);
  const perLayer = layered ? inputs.filter((x) => LAYER_INPUT.exec(x.name)?.[1] === 'cache_k').length : 0;
  for (let l = 0; l < perLayer; l++) for (const kv of KV) input(`${kv}_${l}`);
  const dmmha = inputs.some((x) => x.name === 'kv_past');
  if (dmmha) for (const n of BOUND) input(n);
  // The sizes from V's cache: K's may be laid out as [S, H, dh / 4, M, 4] (the `ft` layout).
  const k = layered ? { ...input('cache_v_0'), shape: [perLayer, ...input('cache_v_0').shape] } : input('cache_k');
  const kLayout: KLayout = layered && input('cache_k_0').shape.length === 5 ? 'ft' : 'bnsh';
  const fixed = (d: number | string | undefined, what: string) => {
    if (typeof d !== 'number' || d <= 0)
      throw new StaticDecodeError(
        'ERR_STATIC_GRAPH',
        `${path}: ${what} is ${JSON.stringify(d)}, not a size: open the step with dims { slots, max_len, chunk }`,
      );
    return d;
  };
  return {
    layers: fixed(k.shape[0], 'cache_k layers'),
    slots: fixed(k.shape[1], 'cache_k slots'),
    heads: fixed(k.shape[2], 'cache_k heads'),
    maxLen: fixed(k.shape[3], 'cache_k max_len'),
    headDim: fixed(k.shape[4], 'cache_k head dim'),
    vocab: fixed(input('logits').shape[1], 'logits width'),
    width: fixed(input('latent').shape[1], 'latent width'),
    chunk: fixed(input('codes').shape[1], 'codes chunk'),
    kvType: k.type === 'float16' ? 'float16' : 'float32',
    layered,
    dmmha,
    kLayout,
  };
}

export class StaticGpt {
  readonly session: DeviceSession;
  readonly dims: StaticDims;
  /** Steps between reads of `done` (to stop a chunk early once every row has stopped). */
  readonly checkEvery: number;
  /**
   * Whether a joining sequence is written into its slot by the addon's copies (copyBlocks) where they can:
   * the cache in the step's own layout and type, its keys and values already on the device. Else, and
   * with false, by a run of the slot write graph.
   */
  readonly joinByCopy: boolean;
  /** Joins written by copies and by the write graph (what the tests look at). */
  readonly joins = { copied: 0, graph: 0 };
  lastStats: StaticStats | null = null;
  /** Totals: decodes, chunks, steps run, and steps a member made a code in. */
  readonly totals = { decodes: 0, chunks: 0, steps: 0, codes: 0 };
  private readonly state: Record<string, DeviceTensor> = {};
  /**
   * Host copies of the sampling settings as last uploaded (only run() writes those tensors), so that
   * unchanged ones are not uploaded again.
   */
  private readonly held: Record<string, Uint8Array | Float32Array | BigInt64Array> = {};
  /** Views of the cache's layers, bound to a layered step's per-layer inputs and outputs. */
  private readonly views: DeviceTensor[] = [];
  /** The K cache as the `ft` layout's [L, S, H, dh / 4, M, 4] (a view), for the write and read graphs. */
  private readonly kFt: DeviceTensor | null = null;
  /** Positions a row may hold: max_len, one fewer for a dmmha step (its bound stays below M). */
  readonly capacity: number;
  /** The step's binding (a dmmha step's: that of the bound last used, `bindings`). */
  private binding: DeviceBinding;
  /** A dmmha step's bindings by bound, each with its two host tensors. */
  private readonly bindings = new Map<number, { binding: DeviceBinding; hold: DeviceTensor[] }>();
  /** The inputs and outputs every binding takes (a dmmha step's bound aside). */
  private readonly io: { bound: Record<string, DeviceTensor>; out: Record<string, DeviceTensor> };
  private readonly members = new Map<number, Member>();
  private readonly free: number[];
  private nextId = 1;
  /** The slot write graphs by the joining keys' type, and the read graphs by the type given back. */
  private readonly writers = new Map<string, DeviceSession>();
  private readonly readers = new Map<string, DeviceSession>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Whether `open` made the session (released by `close`). */
  private ownSession = false;

  /** `session`: the step opened with dims { slots, max_len, chunk } (see `open`). */
  constructor(session: DeviceSession, options: { checkEvery?: number; joinByCopy?: boolean } = {}) {
    this.session = session;
    this.dims = staticDims(session.path, session.inputs);
    this.checkEvery = Math.max(1, Math.floor(options.checkEvery ?? 4));
    this.joinByCopy = options.joinByCopy ?? true;
    const { slots } = this.dims;
    const outputs = new Set(session.outputs.map((o) => o.name));
    const { layered, layers, heads, maxLen, headDim, kvType } = this.dims;
    try {
      // A layered step's per-layer inputs are views of one [L, S, H, M, dh] tensor per K and V (the write
      // and read graphs take those); every other input gets a tensor of its own.
      if (layered) for (const kv of KV) this.state[kv] = session.alloc(kvType, [layers, slots, heads, maxLen, headDim]);
      if (this.dims.kLayout === 'ft') {
        this.kFt = (this.state.cache_k as DeviceTensor).view(0, [layers, slots, heads, headDim / 4, maxLen, 4]);
        this.views.push(this.kFt);
      }
      type Io = { name: string; shape: readonly (number | string)[] };
      /** The shape the graph declares for an input or output, every dim fixed (dims given at open). */
      const fixedShape = (io: Io) =>
        io.shape.map((d) => {
          if (typeof d !== 'number')
            throw new StaticDecodeError(
              'ERR_STATIC_GRAPH',
              `${session.path}: ${outputs.has(io.name) ? 'output' : 'input'} ${io.name} has a free dimension ${d}`,
            );
          return d;
        });
      /** A view of one layer of the K or V cache, with the shape the graph declares for `io`. */
      const layerView = (kv: string, layer: number, io: Io) => {
        const view = (this.state[kv] as DeviceTensor).view(layer * slots * heads * maxLen * headDim, fixedShape(io));
        this.views.push(view);
        return view;
      };
      const bound: Record<string, DeviceTensor> = {};
      for (const i of session.inputs) {
        const layer = layered ? LAYER_INPUT.exec(i.name) : null;
        if (layer) {
          bound[i.name] = layerView(layer[1] as string, Number(layer[2]), i);
          continue;
        }
        if (BOUND.includes(i.name)) continue; // per binding (bindingFor)
        this.state[i.name] = session.alloc(i.type as 'float32', fixedShape(i));
        bound[i.name] = this.state[i.name] as DeviceTensor;
      }
      // Every slot starts empty.
      (this.state.done as DeviceTensor).upload(new Uint8Array(slots).fill(1));
      // Each piece of state is written in place: X_out bound to X's tensor (or view).
      const out: Record<string, DeviceTensor> = {};
      for (const x of Object.keys(bound).filter((n) => STATE.includes(n) || (layered && LAYER_INPUT.test(n)))) {
        if (!outputs.has(`${x}_out`))
          throw new StaticDecodeError('ERR_STATIC_GRAPH', `${session.path}: no output ${x}_out`);
        out[`${x}_out`] = bound[x] as DeviceTensor;
      }
      // A dmmha step's present outputs: the layer's cache once more (the operator's past and present share it).
      for (const o of session.outputs) {
        const p = PRESENT.exec(o.name);
        if (p) out[o.name] = layerView(p[1] as string, Number(p[2]), o);
      }
      this.io = { bound, out };
      this.binding = this.dims.dmmha ? this.bindingFor(1) : session.bind(bound, out);
    } catch (e) {
      for (const b of this.bindings.values()) for (const t of b.hold) t.release();
      for (const t of [...this.views, ...Object.values(this.state)]) t.release();
      throw e;
    }
    this.free = Array.from({ length: slots }, (_, i) => i);
    this.capacity = this.dims.dmmha ? maxLen - 1 : maxLen;
  }

  /** A dmmha step's bound for rows of up to `longest` positions: a multiple of BOUND_STEP, at least 1, below M. */
  bound(longest: number): number {
    return Math.max(1, Math.min(Math.ceil(longest / BOUND_STEP) * BOUND_STEP, this.dims.maxLen - 1));
  }

  /** The positions a row may hold, in words. */
  private room(): string {
    const { maxLen } = this.dims;
    return this.capacity === maxLen
      ? `max_len ${maxLen}`
      : `${this.capacity} positions (max_len ${maxLen}, one column kept for its bound)`;
  }

  /**
   * A dmmha step's binding for rows of up to `longest` positions, made on first use: kv_past = bound(longest),
   * which is at least the length of every row that holds a sequence at every step it runs (the operator
   * also writes column kv_past of every row, past their valid columns), in host tensors of its own.
   * At least 1: onnxruntime's CPU kernel takes a past_sequence_length of 0 for "none given" and then the
   * buffer's whole length, and wrote a column past every row's buffer.
   */
  private bindingFor(longest: number): DeviceBinding {
    const p = this.bound(longest);
    let b = this.bindings.get(p);
    if (!b) {
      const past = this.session.allocHost('int32', [1], Int32Array.of(p));
      const total = this.session.allocHost('int64', [], BigInt64Array.of(BigInt(p + 1)));
      try {
        b = {
          binding: this.session.bind({ ...this.io.bound, kv_past: past, kv_total: total }, this.io.out),
          hold: [past, total],
        };
      } catch (e) {
        past.release();
        total.release();
        throw e;
      }
      this.bindings.set(p, b);
    }
    return b.binding;
  }

  /** Opens the step at `path` with the given sizes and a driver over it (the session is the driver's: `close` releases it). */
  static open(
    path: string | Uint8Array,
    sizes: StaticSizes,
    options: DeviceSessionOptions & { checkEvery?: number; joinByCopy?: boolean } = {},
  ): StaticGpt {
    const { checkEvery, joinByCopy, ...session } = options;
    const s = DeviceSession.open(path, {
      ...session,
      dims: { ...session.dims, slots: sizes.slots, max_len: sizes.maxLen, chunk: sizes.chunk },
    });
    try {
      const g = new StaticGpt(s, {
        ...(checkEvery !== undefined ? { checkEvery } : {}),
        ...(joinByCopy !== undefined ? { joinByCopy } : {}),
      });
      g.ownSession = true;
      return g;
    } catch (e) {
      s.release();
      throw e;
    }
  }

  get size(): number {
    return this.members.size;
  }

  has(id: number): boolean {
    return this.members.has(id);
  }

  /** Codes generated so far by a member (its audio position minus one). */
  generated(id: number): number {
    return Number(this.member(id).pos) - 1;
  }

  /** KV positions a member holds. */
  length(id: number): number {
    return this.member(id).length;
  }

  /** The slot a member has. */
  slotOf(id: number): number {
    return this.member(id).slot;
  }

  /**
   * Takes over a sequence's decode state (the cache is disposed) and gives it a free slot; the state
   * goes to the device with the next decode. Refused when every slot is taken or the prompt leaves no
   * room for a code.
   */
  join(cache: GptKvCache): number {
    this.live();
    const s = cache.parts();
    const { kvType, slots, layers, heads, headDim, vocab, width } = this.dims;
    // An fp16 cache also takes an fp32 prefill's keys and values (the write graph casts them on the device).
    if (s.past_k.type !== kvType && !(kvType === 'float16' && s.past_k.type === 'float32'))
      throw new StaticDecodeError('ERR_STATIC_CACHE', `cache is ${s.past_k.type}, the static step wants ${kvType}`);
    const d = s.past_k.dims;
    if (d[0] !== layers || d[1] !== 1 || d[2] !== heads || d[4] !== headDim)
      throw new StaticDecodeError(
        'ERR_STATIC_CACHE',
        `cache is [${d.join(', ')}], the static step wants [${layers}, 1, ${heads}, P, ${headDim}]`,
      );
    if (s.logits.dims[1] !== vocab || s.latent.dims[1] !== width)
      throw new StaticDecodeError(
        'ERR_STATIC_CACHE',
        `cache's logits or latent width differs from the static step's (${vocab}, ${width})`,
      );
    const length = d[3] as number;
    if (length >= this.capacity)
      throw new StaticDecodeError(
        'ERR_STATIC_TOO_LONG',
        `a sequence of ${length} positions leaves no room for a code: the static step holds ${this.capacity}`,
      );
    const slot = this.free.shift();
    if (slot === undefined)
      throw new StaticDecodeError('ERR_STATIC_FULL', `every one of the static step's ${slots} slots is taken`);
    const id = this.nextId++;
    this.members.set(id, {
      slot,
      length,
      pos: (s.pos.data as BigInt64Array)[0] as bigint,
      promptLength: cache.promptLength,
      kvFrom: s.past_k.type as 'float32' | 'float16',
      pending: cache.take(),
    });
    return id;
  }

  /**
   * Runs the step a few times with every slot inactive (no state changes) and opens the slot write
   * graph, so that on CUDA onnxruntime captures the step's CUDA graph now, at load, and the first
   * request pays neither that nor the write graph's setup. Before any member joins only; a no-op after.
   */
  warmUp(): Promise<void> {
    return this.serial(async () => {
      this.live();
      if (this.members.size > 0 || this.totals.decodes > 0) return;
      const { slots } = this.dims;
      const st = this.state as Record<string, DeviceTensor>;
      (st.done as DeviceTensor).upload(new Uint8Array(slots).fill(1));
      (st.steps as DeviceTensor).upload(new BigInt64Array(slots));
      (st.iter as DeviceTensor).upload(BigInt64Array.of(0n));
      // onnxruntime runs a graph once or twice before it captures it. A dmmha step captured as CUDA graphs:
      // one per bound, all of them now.
      const bounds =
        this.dims.dmmha && this.session.options.cudaGraph
          ? Array.from({ length: Math.ceil((this.dims.maxLen - 1) / BOUND_STEP) }, (_, i) => (i + 1) * BOUND_STEP)
          : [1];
      for (const p of bounds) await (this.dims.dmmha ? this.bindingFor(p) : this.binding).run(3);
      // The write graph for the joins to come: an fp16 cache's take an fp32 prefill's keys and values.
      this.writeSession(this.dims.kvType === 'float16' ? 'float32' : this.dims.kvType);
    });
  }

  /** Forgets a member; its slot is free for the next join (and inactive from the next decode on). */
  drop(id: number): void {
    const m = this.member(id);
    releaseDeviceKv(m.pending);
    m.pending = null;
    this.members.delete(id);
    this.free.push(m.slot);
    this.free.sort((a, b) => a - b);
  }

  /** Removes a member and gives its state back as a batch-1 cache (read from its slot). */
  leave(id: number): Promise<GptKvCache> {
    return this.serial(async () => {
      const m = this.member(id);
      let state = m.pending;
      m.pending = null;
      // Not written yet, its keys and values still where the prefill left them: to the host, as a
      // batch-1 cache's are.
      if (state && !(isHostTensor(state.past_k) && isHostTensor(state.past_v))) {
        const host = (t: CacheParts['past_k']) =>
          isHostTensor(t) ? t : tensorOf(t.type as 'float32', t.download() as Float32Array, t.dims);
        const onHost = { ...state, past_k: host(state.past_k), past_v: host(state.past_v) };
        releaseDeviceKv(state);
        state = onHost;
      }
      if (!state) {
        const int64 = (v: number): HostInput => ({ type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(v)) });
        const out = await this.readSession(m.kvFrom).run(
          {
            cache_k: this.kFt ?? (this.state.cache_k as DeviceTensor),
            cache_v: this.state.cache_v as DeviceTensor,
            all_logits: this.state.logits as DeviceTensor,
            all_latent: this.state.latent as DeviceTensor,
            all_seen: this.state.seen as DeviceTensor,
            row: int64(m.slot),
            ends: int64(m.length),
          },
          { past_k: 'cpu', past_v: 'cpu', logits: 'cpu', latent: 'cpu', seen: 'cpu' },
        );
        const t = (x: HostTensor) => tensorOf(x.type as 'float32', x.data as Float32Array, x.dims);
        state = {
          logits: t(out.logits),
          latent: t(out.latent),
          seen: t(out.seen),
          pos: tensorOf('int64', BigInt64Array.of(m.pos), [1]),
          past_k: t(out.past_k),
          past_v: t(out.past_v),
        };
      }
      this.drop(id);
      return new GptKvCache(state, m.promptLength);
    });
  }

  /**
   * Runs the requested members (each at most once) by up to their uniforms' length, fewer when the
   * stop code comes (it is included, as in Gpt.decode); members not named sit it out, unchanged.
   */
  decode(requests: readonly Request[]): Promise<Map<number, DecodeResult>> {
    return this.serial(() => this.run(requests));
  }

  /** Runs `f` after every earlier decode or leave has finished (their device work never overlaps). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(requests: readonly Request[]): Promise<Map<number, DecodeResult>> {
    this.live();
    if (new Set(requests.map((r) => r.id)).size !== requests.length)
      throw new StaticDecodeError('ERR_STATIC_MEMBER', 'a member appears twice in one batch');
    const { slots, chunk, vocab, width } = this.dims;
    const capacity = this.capacity;
    const rows = requests.map((r) => {
      const m = this.member(r.id);
      if (m.length + r.uniforms.length > capacity)
        throw new StaticDecodeError(
          'ERR_STATIC_TOO_LONG',
          `member ${r.id}: ${m.length} positions and ${r.uniforms.length} more codes do not fit the static step's ${this.room()}`,
        );
      return { r, m, codes: [] as number[], latents: [] as Float32Array[], used: 0, live: r.uniforms.length > 0 };
    });
    const results = new Map<number, DecodeResult>();
    const j0 = performance.now();
    const joined = await this.writePending();
    if (joined) recordPhase('step: joins', performance.now() - j0, joined);
    const st = this.state as Record<string, DeviceTensor>;
    // Per row: the requested rows run, every other slot (empty, or sitting this decode out) is inactive.
    const done = new Uint8Array(slots).fill(1);
    const temperature = new Float32Array(slots).fill(1);
    const topK = new BigInt64Array(slots).fill(BigInt(vocab));
    const topP = new Float32Array(slots).fill(1);
    const penalty = new Float32Array(slots).fill(1);
    for (const { r, m } of rows) {
      done[m.slot] = 0;
      temperature[m.slot] = r.settings.temperature;
      const k = r.settings.topK;
      topK[m.slot] = BigInt(Math.max(1, Math.min(k > 0 ? k : vocab, vocab)));
      topP[m.slot] = r.settings.topP;
      penalty[m.slot] = r.settings.repetitionPenalty;
    }
    const t0 = performance.now();
    // The settings go up only when they differ from what the device holds (a window of the same
    // streams as the last one changes none of them): each upload is a synchronous copy.
    (st.done as DeviceTensor).upload(done); // the step and the write graph change it too
    this.uploadIfChanged('temperature', temperature);
    this.uploadIfChanged('top_k', topK);
    this.uploadIfChanged('top_p', topP);
    this.uploadIfChanged('repetition_penalty', penalty);
    let runMs = 0;
    let steps = 0;
    let chunks = 0;
    const codesHost = new BigInt64Array(slots * chunk);
    const latentsHost = new Float32Array(slots * chunk * width);
    while (rows.some((x) => x.live)) {
      const stepLimit = new BigInt64Array(slots);
      const uniforms = new Float32Array(slots * chunk);
      let most = 0;
      for (const x of rows) {
        if (!x.live) continue;
        const k = Math.min(chunk, x.r.uniforms.length - x.used);
        stepLimit[x.m.slot] = BigInt(k);
        uniforms.set(x.r.uniforms.subarray(x.used, x.used + k), x.m.slot * chunk);
        most = Math.max(most, k);
      }
      (st.steps as DeviceTensor).upload(stepLimit);
      (st.uniforms as DeviceTensor).upload(uniforms);
      (st.iter as DeviceTensor).upload(BigInt64Array.of(0n));
      if (this.dims.dmmha) {
        // Every member's length now (those in this decode have grown by what they made so far), plus the
        // chunk's steps: no row that holds a sequence outgrows it during the chunk.
        let longest = 0;
        const grown = new Map(rows.map((x) => [x.m, x.used]));
        for (const m of this.members.values()) longest = Math.max(longest, m.length + (grown.get(m) ?? 0));
        this.binding = this.bindingFor(longest + most);
      }
      let ran = 0;
      while (ran < most) {
        const k = Math.min(this.checkEvery, most - ran);
        const r0 = performance.now();
        await this.binding.run(k);
        runMs += performance.now() - r0;
        ran += k;
        if (ran >= most) break;
        // Every row stopped (or reached its limit): the rest of the chunk would change nothing.
        const d = (st.done as DeviceTensor).download() as Uint8Array;
        if (rows.every((x) => !x.live || d[x.m.slot] === 1 || Number(stepLimit[x.m.slot]) <= ran)) break;
      }
      steps += ran;
      chunks++;
      (st.codes as DeviceTensor).download(codesHost);
      (st.latents as DeviceTensor).download(latentsHost);
      for (const x of rows) {
        if (!x.live) continue;
        const k = Math.min(Number(stepLimit[x.m.slot]), ran);
        const base = x.m.slot * chunk;
        let n = 0;
        while (n < k && (codesHost[base + n] as bigint) >= 0n) n++;
        for (let j = 0; j < n; j++) x.codes.push(Number(codesHost[base + j]));
        x.latents.push(latentsHost.slice(base * width, (base + n) * width));
        x.used += n;
        // Fewer codes than asked of this chunk: the row stopped.
        if (n < Number(stepLimit[x.m.slot]) || x.used >= x.r.uniforms.length) x.live = false;
      }
    }
    for (const x of rows) {
      const latents = new Float32Array(x.codes.length * width);
      let at = 0;
      for (const l of x.latents) {
        latents.set(l, at);
        at += l.length;
      }
      results.set(x.r.id, { codes: x.codes, latents, width });
      // A member dropped while this ran is not there any more.
      if (this.members.get(x.r.id) === x.m) {
        x.m.length += x.codes.length;
        x.m.pos += BigInt(x.codes.length);
      }
      this.totals.codes += x.codes.length;
    }
    const total = performance.now() - t0;
    recordPhase('step: graph runs', runMs, steps);
    recordPhase('step: copies and host work', total - runMs);
    this.totals.decodes++;
    this.totals.chunks += chunks;
    this.totals.steps += steps;
    this.lastStats = { batch: rows.length, steps, chunks, joined };
    return results;
  }

  /** Uploads `data` into state tensor `name` unless the device already holds exactly that. */
  private uploadIfChanged(name: string, data: Uint8Array | Float32Array | BigInt64Array): void {
    const last = this.held[name];
    if (last && last.length === data.length && last.every((v, i) => v === data[i])) return;
    (this.state[name] as DeviceTensor).upload(data);
    this.held[name] = data;
  }

  /**
   * Writes the members that joined since the last decode into their slots: by copies where they can be
   * (copyJoin), else by a run of the write graph each (writeByGraph).
   */
  private async writePending(): Promise<number> {
    let n = 0;
    for (const m of this.members.values()) {
      const s = m.pending;
      if (!s) continue;
      if (this.copyJoin(m, s)) this.joins.copied++;
      else {
        this.joins.graph++;
        await this.writeByGraph(m, s);
      }
      releaseDeviceKv(s);
      m.pending = null;
      n++;
    }
    return n;
  }

  /** Writes a joining member's keys, values and state rows into its slot through one run of the slot write graph. */
  private async writeByGraph(m: Member, s: CacheParts): Promise<void> {
    const { layers, heads, headDim } = this.dims;
    const p = m.length;
    const int64 = (v: readonly number[], dims: number[]): HostInput => ({
      type: 'int64',
      dims,
      data: BigInt64Array.from(v, BigInt),
    });
    // Keys and values a prefill left on the device go in as they lie ([L, 1, H, P, dh] seen as [L, H, P, dh]).
    const views: DeviceTensor[] = [];
    const kv = (t: CacheParts['past_k']): HostInput | DeviceTensor => {
      const dims = [layers, heads, p, headDim];
      if (isHostTensor(t)) return { type: t.type, dims, data: t.data };
      const v = t.view(0, dims);
      views.push(v);
      return v;
    };
    const row = (t: CacheParts['logits']): HostInput => ({ type: t.type, dims: [...t.dims], data: t.data });
    const st = this.state as Record<string, DeviceTensor>;
    const names = ['cache_k', 'cache_v', 'logits', 'latent', 'seen', 'pos', 'length', 'done'] as const;
    const kCache = this.kFt ?? (st.cache_k as DeviceTensor);
    await this.writeSession(m.kvFrom).run(
      {
        ...Object.fromEntries(names.map((x) => [x, st[x] as DeviceTensor])),
        cache_k: kCache,
        new_k: kv(s.past_k),
        new_v: kv(s.past_v),
        row_idx: int64([m.slot], [1, 1]),
        new_logits: row(s.logits),
        new_latent: row(s.latent),
        new_seen: row(s.seen),
        new_pos: row(s.pos),
        new_length: int64([p], [1]),
        new_done: { type: 'bool', dims: [1], data: Uint8Array.of(0) },
      },
      { ...Object.fromEntries(names.map((x) => [`${x}_out`, st[x] as DeviceTensor])), cache_k_out: kCache },
    );
    for (const v of views) v.release();
  }

  /**
   * Writes a joining member's keys, values and state rows into its slot by the addon's copies, all waited for
   * at once: for each layer, the H rows of P x dh elements of its keys (and values) go to the slot's first P
   * columns of that layer's heads ([L, S, H, M, dh]); each state row to the slot's row. Why: a run of the
   * write graph cost 3 to 11 ms a join on an H200 (the step alone, one join a run of 20 codes) and the whole
   * batch waits for the joins; these are a few copies on the copy engines. False where it cannot (the `ft`
   * layout, an fp16 cache from fp32 keys, keys in host memory, no runtime copy): the write graph does it.
   */
  private copyJoin(m: Member, s: CacheParts): boolean {
    const { layers, heads, headDim, slots, maxLen, vocab, width, kLayout, kvType } = this.dims;
    if (!this.joinByCopy || kLayout !== 'bnsh' || m.kvFrom !== kvType) return false;
    if (isHostTensor(s.past_k) || isHostTensor(s.past_v)) return false;
    const p = m.length;
    const kv = new Float64Array(layers * 6);
    for (let l = 0; l < layers; l++)
      kv.set(
        [
          (l * slots + m.slot) * heads * maxLen * headDim,
          maxLen * headDim,
          l * heads * p * headDim,
          p * headDim,
          p * headDim,
          heads,
        ],
        l * 6,
      );
    const st = this.state as Record<string, DeviceTensor>;
    const row = (n: number) => Float64Array.of(m.slot * n, n, 0, n, n, 1);
    const data = (t: CacheParts['logits']) => t.data as AnyTypedArray;
    return copyBlocks([
      [st.cache_k as DeviceTensor, s.past_k, kv],
      [st.cache_v as DeviceTensor, s.past_v, kv],
      [st.logits as DeviceTensor, data(s.logits), row(vocab)],
      [st.latent as DeviceTensor, data(s.latent), row(width)],
      [st.seen as DeviceTensor, data(s.seen), row(vocab)],
      [st.pos as DeviceTensor, data(s.pos), row(1)],
      [st.length as DeviceTensor, BigInt64Array.of(BigInt(p)), row(1)],
      [st.done as DeviceTensor, Uint8Array.of(0), row(1)],
    ]);
  }

  /** The write graph for keys and values of type `from` (made on first use). */
  private writeSession(from: 'float32' | 'float16'): DeviceSession {
    return this.smallGraph(
      this.writers,
      from,
      () => slotWriteGraph(this.dims.kvType, this.dims.kLayout, from),
      'write',
    );
  }

  /** The read graph giving keys and values of type `to` (made on first use). */
  private readSession(to: 'float32' | 'float16'): DeviceSession {
    return this.smallGraph(this.readers, to, () => slotReadGraph(this.dims.kvType, this.dims.kLayout, to), 'read');
  }

  /** The slot graph kept in `graphs` under `type`, opened from `make()` on first use. */
  private smallGraph(
    graphs: Map<string, DeviceSession>,
    type: string,
    make: () => Uint8Array,
    what: 'write' | 'read',
  ): DeviceSession {
    let g = graphs.get(type);
    if (!g) {
      g = this.open(make(), `slot ${what} graph`);
      graphs.set(type, g);
    }
    return g;
  }

  /** A small graph on the step's device. */
  private open(graph: Uint8Array, what: string): DeviceSession {
    return DeviceSession.openBeside(this.session, graph, what);
  }

  private member(id: number): Member {
    const m = this.members.get(id);
    if (!m) throw new StaticDecodeError('ERR_STATIC_MEMBER', `no member ${id} in this batch`);
    return m;
  }

  private live(): void {
    if (this.closed)
      throw new StaticDecodeError('ERR_STATIC_CLOSED', `${this.session.path}: the static decode was closed`);
  }

  /**
   * Releases the device state and the small graphs' sessions (after any decode in flight), and the
   * step's session when `open` made it.
   */
  close(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      if (!this.dims.dmmha) this.binding.release(); // a dmmha step's is among `bindings`
      for (const b of this.bindings.values()) {
        b.binding.release();
        for (const t of b.hold) t.release();
      }
      for (const t of [...this.views, ...Object.values(this.state)]) t.release();
      for (const g of [...this.writers.values(), ...this.readers.values()]) g.release();
      if (this.ownSession) this.session.release();
      for (const m of this.members.values()) releaseDeviceKv(m.pending);
      this.members.clear();
    });
  }
}
