/**
 * Continuous batching of GPT decode at run granularity: one `run()` of the batched decode graph
 * (`gpt_batch_*`, see the trainer's onnx_tools.decode_loop_batch) advances B sequences by up to N
 * codes each. Sequences come from today's batch-1 prefill (`Gpt.prefill`), join the batch, and may
 * join or leave between runs.
 *
 * Layout: the KV cache is [layers, B, heads, P, head dim], **left-padded**. Row b holds its
 * positions in columns [start[b], P); the graph appends one column per step for every row, so a row's
 * valid columns stay one block [start[b], P + counts[b]). Padding gets no attention weight.
 *
 * A member's state lives where the last run left it: its own batch-1 cache (just joined, or after a
 * batch it sat out) or a row of the last run's outputs. When the next run has the same members in the
 * same order and each one advanced by the whole run (no early stop, no shorter run), the last run's
 * outputs are fed back as they are; otherwise the batch is packed afresh (copying each member's
 * valid columns), which is also where rows that left are dropped and P shrinks to the longest member.
 *
 * Each member's sampler draws from its own uniforms (one per code, from the caller's seeded RNG), so
 * the codes a sequence gets do not depend on its batch-mates: the batched graph is the batch-1 graph
 * row by row, with padded positions masked.
 *
 * `BatchCore` holds that bookkeeping; where the state lives and how the graph runs is its subclass's:
 * `BatchedGpt` here (onnxruntime-node, every tensor in host memory between runs) and
 * `DeviceBatchedGpt` in native/batch.ts (the native addon, the state in device memory between runs).
 */
import { type Feeds, type Session, type Tensor, tensor, tensorOf, type ValueInfo } from '../runtime/index.ts';
import {
  type DecodeResult,
  type DecodeSettings,
  type DecodeState,
  decodeOutput,
  GptKvCache,
  nextDecodeState,
} from './gpt.ts';

/** What the core needs of a run's state: its KV cache's shape. */
export type KvState = { past_k: { dims: readonly number[] } };

/**
 * Where a member's state is: row `row` of `state`, KV columns [start, start + length); `pos` is the
 * audio position of its next code (the graph's `pos_out` is `pos` plus the codes made, so it is kept
 * here rather than read back from wherever the state lives).
 */
export type Place<S> = { state: S | DecodeState; row: number; start: number; length: number; pos: bigint };

type Member<S> = { place: Place<S>; promptLength: number };

export type BatchRequest = {
  id: number;
  /** One uniform per code this run may produce (its length is this member's step limit). */
  uniforms: Float32Array;
  settings: DecodeSettings;
};

export type BatchStats = {
  /** Members in the run. */
  batch: number;
  /** Padded KV length fed (P). */
  positions: number;
  /** Whether the last run's outputs were fed back without packing. */
  reused: boolean;
  /** Loop iterations the graph ran. */
  steps: number;
};

export type BatchDims = {
  layers: number;
  heads: number;
  headDim: number;
  vocab: number;
  width: number;
  kvType: 'float32' | 'float16';
};

/** What one run of the batched graph gives back: the next state and the host copies of its codes. */
export type BatchRunOutput<S> = {
  next: S;
  /** [B, steps] int64, -1 where a row made no code. */
  codes: BigInt64Array;
  /** [B, steps, width]. */
  latents: Float32Array;
  /** [B]: the codes each row made. */
  counts: BigInt64Array;
  steps: number;
};

/** The batched graph's fixed sizes, from its declared inputs (an error naming `path` when it is not one). */
export function batchDims(path: string, inputs: readonly ValueInfo[]): BatchDims {
  const input = (name: string) => {
    const i = inputs.find((x) => x.name === name);
    if (!i) throw new Error(`${path}: not a batched decode graph (no input ${name})`);
    return i;
  };
  const kv = input('past_k');
  const fixed = (d: number | string | undefined, what: string) => {
    if (typeof d !== 'number' || d <= 0) throw new Error(`${path}: ${what} is not a fixed size`);
    return d;
  };
  input('start');
  input('steps');
  return {
    layers: fixed(kv.shape[0], 'past_k layers'),
    heads: fixed(kv.shape[2], 'past_k heads'),
    headDim: fixed(kv.shape[4], 'past_k head dim'),
    vocab: fixed(input('logits').shape[1], 'logits width'),
    width: fixed(input('latent').shape[1], 'latent width'),
    kvType: kv.dtype === 'float16' ? 'float16' : 'float32',
  };
}

/** A fresh left-padded batch of the given places (their states in host memory), P = the longest. */
export function packPlaces(dims: BatchDims, places: readonly Place<DecodeState>[]): DecodeState {
  const { layers, heads, headDim, vocab, width, kvType } = dims;
  const b = places.length;
  const p = Math.max(...places.map((x) => x.length));
  const rows = (name: 'logits' | 'latent' | 'seen', size: number) => {
    const first = places[0]?.state[name].data as Float32Array | Uint8Array;
    const Ctor = first.constructor as new (n: number) => Float32Array | Uint8Array;
    const dst = new Ctor(b * size);
    places.forEach((x, i) => {
      const src = x.state[name].data as Float32Array | Uint8Array;
      dst.set(src.subarray(x.row * size, (x.row + 1) * size), i * size);
    });
    return dst;
  };
  const kv = (name: 'past_k' | 'past_v') => {
    const size = layers * b * heads * p * headDim;
    const dst = kvType === 'float16' ? new Uint16Array(size) : new Float32Array(size);
    places.forEach((x, i) => {
      const t = x.state[name];
      const src = t.data as Float32Array | Uint16Array;
      const sb = t.dims[1] as number;
      const sp = t.dims[3] as number;
      const pad = p - x.length;
      for (let l = 0; l < layers; l++)
        for (let h = 0; h < heads; h++) {
          const from = (((l * sb + x.row) * heads + h) * sp + x.start) * headDim;
          const to = (((l * b + i) * heads + h) * p + pad) * headDim;
          dst.set(src.subarray(from, from + x.length * headDim), to);
        }
    });
    return tensorOf(kvType, dst, [layers, b, heads, p, headDim]);
  };
  return {
    logits: tensorOf('float32', rows('logits', vocab), [b, vocab]),
    latent: tensorOf('float32', rows('latent', width), [b, width]),
    pos: tensorOf(
      'int64',
      BigInt64Array.from(places, (x) => x.pos),
      [b],
    ),
    seen: tensorOf('bool', rows('seen', vocab), [b, vocab]),
    past_k: kv('past_k'),
    past_v: kv('past_v'),
  };
}

/** The feeds of one run besides the state (host tensors): rows' starts, step limits, uniforms, settings. */
export function batchFeeds(
  requests: readonly BatchRequest[],
  starts: readonly number[],
  stopCode: number,
  vocab: number,
): Feeds {
  const b = requests.length;
  const n = Math.max(...requests.map((r) => r.uniforms.length));
  const uniforms = new Float32Array(b * n);
  requests.forEach((r, i) => {
    uniforms.set(r.uniforms, i * n);
  });
  return {
    start: tensor('int64', starts, [b]),
    steps: tensor(
      'int64',
      requests.map((r) => r.uniforms.length),
      [b],
    ),
    uniforms: tensor('float32', uniforms, [b, n]),
    stop_code: tensor('int64', [stopCode], [1]),
    temperature: tensor(
      'float32',
      requests.map((r) => r.settings.temperature),
      [b],
    ),
    top_k: tensor(
      'int64',
      requests.map((r) => Math.max(1, Math.min(r.settings.topK > 0 ? r.settings.topK : vocab, vocab))),
      [b],
    ),
    top_p: tensor(
      'float32',
      requests.map((r) => r.settings.topP),
      [b],
    ),
    repetition_penalty: tensor(
      'float32',
      requests.map((r) => r.settings.repetitionPenalty),
      [b],
    ),
  };
}

/**
 * The members, their places and the run-by-run decisions (feed the last outputs back, or pack afresh);
 * S is the state a run leaves (DecodeState of host tensors here, device tensors in native/batch.ts).
 */
export abstract class BatchCore<S extends KvState> {
  readonly stopCode: number;
  protected readonly dims: BatchDims;
  private readonly members = new Map<number, Member<S>>();
  private nextId = 1;
  /** The last run's outputs and the members (in row order) that advanced through all of it. */
  private last: { state: S; ids: number[]; aligned: boolean } | null = null;
  /** States some member or `last` may still point to (released once none does). */
  private readonly held = new Set<S | DecodeState>();
  lastStats: BatchStats | null = null;

  constructor(path: string, inputs: readonly ValueInfo[], tokens: { audioStop: number }) {
    this.stopCode = tokens.audioStop;
    this.dims = batchDims(path, inputs);
  }

  /** The state in host memory (for packing): itself when it is there already. */
  protected abstract hostState(state: S | DecodeState): DecodeState;
  /** One run of the batched graph over `state` with the other feeds. */
  protected abstract runGraph(state: S | DecodeState, feeds: Feeds): Promise<BatchRunOutput<S>>;
  /** A state that no member and no feed-back needs any more (device memory goes back at once). */
  protected releaseState(_state: S | DecodeState): void {}

  get size(): number {
    return this.members.size;
  }

  has(id: number): boolean {
    return this.members.has(id);
  }

  /** Takes over a sequence's decode state (the cache is disposed: `leave` gives a new one back). */
  join(cache: GptKvCache): number {
    const s = cache.feeds() as DecodeState;
    if (s.past_k.type !== this.dims.kvType)
      throw new Error(`cache is ${s.past_k.type}, the batched graph wants ${this.dims.kvType}`);
    const id = this.nextId++;
    this.members.set(id, {
      place: {
        state: s,
        row: 0,
        start: 0,
        length: s.past_k.dims[3] as number,
        pos: (s.pos.data as BigInt64Array)[0] as bigint,
      },
      promptLength: cache.promptLength,
    });
    this.held.add(s);
    cache.dispose();
    return id;
  }

  /** Removes a member; returns its state as a batch-1 cache (to continue alone, or to dispose). */
  leave(id: number): GptKvCache {
    const m = this.member(id);
    const one = this.packHost([m.place]);
    this.members.delete(id);
    if (this.last) this.last.aligned = false;
    this.collect();
    return new GptKvCache(
      {
        logits: one.logits,
        latent: one.latent,
        pos: one.pos,
        seen: one.seen,
        past_k: one.past_k,
        past_v: one.past_v,
      },
      m.promptLength,
    );
  }

  /** Drops a member without copying its state out. */
  drop(id: number): void {
    this.member(id);
    this.members.delete(id);
    if (this.last) this.last.aligned = false;
    this.collect();
  }

  /** Codes generated so far by a member (its audio position minus one). */
  generated(id: number): number {
    return Number(this.member(id).place.pos) - 1;
  }

  /** KV positions a member holds. */
  length(id: number): number {
    return this.member(id).place.length;
  }

  /**
   * One run of the batched graph over the requested members (each at most once): in request order,
   * or in the last run's row order when they are the same members.
   * Member r produces up to requests[r].uniforms.length codes, fewer when the stop code comes (it is
   * included, as in `Gpt.decode`). Members not named sit this run out, unchanged.
   */
  async decode(asked: readonly BatchRequest[]): Promise<Map<number, DecodeResult>> {
    if (new Set(asked.map((r) => r.id)).size !== asked.length) throw new Error('a member appears twice in one batch');
    // The same members as the last run, in any order: take them in its row order, so its outputs feed back as they are.
    const rowOf = new Map(this.last?.ids.map((id, i) => [id, i]));
    const requests =
      rowOf.size === asked.length && asked.every((r) => rowOf.has(r.id))
        ? [...asked].sort((x, y) => (rowOf.get(x.id) as number) - (rowOf.get(y.id) as number))
        : asked;
    const ids = requests.map((r) => r.id);
    const members = ids.map((id) => this.member(id));
    const b = requests.length;
    const results = new Map<number, DecodeResult>();
    if (b === 0) return results;
    const last = this.last;
    const kept =
      last?.aligned &&
      last.ids.length === b &&
      last.ids.every((id, i) => id === ids[i]) &&
      members.every((m) => m.place.state === last.state)
        ? last.state
        : null;
    const reuse = kept !== null;
    const state = kept ?? (await this.packForRun(members.map((m) => m.place)));
    const positions = state.past_k.dims[3] as number;
    const starts = reuse ? members.map((m) => m.place.start) : members.map((m) => positions - m.place.length);
    const out = await this.runGraph(state, batchFeeds(requests, starts, this.stopCode, this.dims.vocab));
    const { next, steps } = out;
    const width = this.dims.width;
    let aligned = true;
    members.forEach((m, i) => {
      const count = Number(out.counts[i]);
      const mine = Array.from(out.codes.subarray(i * steps, i * steps + count), Number);
      if (mine.includes(-1)) throw new Error(`gpt_batch: row ${i} has a gap in its codes`);
      results.set(ids[i] as number, {
        codes: mine,
        latents: out.latents.slice(i * steps * width, (i * steps + count) * width),
        width,
      });
      m.place = {
        state: next,
        row: i,
        start: starts[i] as number,
        length: m.place.length + count,
        pos: m.place.pos + BigInt(count),
      };
      if (count !== steps) aligned = false;
    });
    this.held.add(next);
    if (!reuse) this.held.add(state);
    this.last = { state: next, ids, aligned };
    this.lastStats = { batch: b, positions, reused: reuse, steps };
    this.collect();
    return results;
  }

  /** Where a member's state is now. */
  protected placeOf(id: number): Readonly<Place<S>> {
    return this.member(id).place;
  }

  private member(id: number): Member<S> {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id} in this batch`);
    return m;
  }

  /** The state a run starts from when the last run's outputs cannot be fed back: the places packed afresh. */
  protected async packForRun(places: readonly Place<S>[]): Promise<S | DecodeState> {
    return this.packHost(places);
  }

  /** A fresh left-padded batch of the given places in host memory, P = the longest. */
  protected packHost(places: readonly Place<S>[]): DecodeState {
    const host = new Map<S | DecodeState, DecodeState>();
    return packPlaces(
      this.dims,
      places.map((x) => {
        let h = host.get(x.state);
        if (!h) {
          h = this.hostState(x.state);
          host.set(x.state, h);
        }
        return { ...x, state: h };
      }),
    );
  }

  /** Releases the states nothing points to any more. */
  private collect(): void {
    const live = new Set<S | DecodeState>([...this.members.values()].map((m) => m.place.state));
    if (this.last) live.add(this.last.state);
    for (const s of this.held)
      if (!live.has(s)) {
        this.held.delete(s);
        this.releaseState(s);
      }
  }
}

/** The batched graph through onnxruntime-node: the state is host tensors between runs. */
export class BatchedGpt extends BatchCore<DecodeState> {
  readonly session: Session;

  constructor(session: Session, tokens: { audioStop: number }) {
    super(session.path, session.inputs, tokens);
    this.session = session;
  }

  protected hostState(state: DecodeState): DecodeState {
    return state;
  }

  protected async runGraph(state: DecodeState, feeds: Feeds): Promise<BatchRunOutput<DecodeState>> {
    const out: Record<string, Tensor> = await this.session.run({ ...state, ...feeds });
    const get = (name: string) => decodeOutput(out, name, 'gpt_batch');
    const codes = get('codes');
    return {
      next: nextDecodeState(out, 'gpt_batch'),
      codes: codes.data as BigInt64Array,
      latents: get('latents').data as Float32Array,
      counts: get('counts').data as BigInt64Array,
      steps: codes.dims[1] as number,
    };
  }
}
