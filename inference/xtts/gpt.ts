/**
 * The GPT driver: prefill over [conditioning latents, [START] text [STOP], audio start], then
 * decode runs of the exported Loop graph. Each decode run samples up to N codes inside one
 * `run()` (the sampler is in the graph, fed with uniforms from the caller's seeded RNG), so the
 * KV cache crosses the runtime boundary once per run instead of once per code: onnxruntime-node
 * cannot keep outputs on the GPU between runs.
 */
import { timed } from '../engine/phase-times.ts';
import { GREEDY } from '../generation/config.ts';
import type { DeviceSession, DeviceTensor } from '../native/index.ts';
import { type DevicePrefiller, isBatchedPrefill } from '../native/prefill-batcher.ts';
import type { PrefixCache } from '../native/prefix-cache.ts';
import { type Session, type Tensor, tensor, tensorOf } from '../runtime/index.ts';

export type DecodeSettings = {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
};

/** Greedy decoding as the graph defines it: top-k 1 (the repetition penalty still applies). */
export function greedy(repetitionPenalty: number): DecodeSettings {
  return { temperature: GREEDY.temperature, topK: GREEDY.top_k, topP: GREEDY.top_p, repetitionPenalty };
}

/** The decode state a decode Loop carries from one run to the next. */
export type DecodeState = Record<'logits' | 'latent' | 'pos' | 'seen' | 'past_k' | 'past_v', Tensor>;

/** A decode run's output named `name`, or an error naming the graph that did not return it. */
export function decodeOutput(out: Record<string, Tensor>, name: string, graph = 'gpt_decode'): Tensor {
  const t = out[name];
  if (!t) throw new Error(`${graph} returned no ${name}`);
  return t;
}

/** The state a decode run hands to the next one (its `*_out`, `k_out` and `v_out` outputs). */
export function nextDecodeState(out: Record<string, Tensor>, graph = 'gpt_decode'): DecodeState {
  const get = (name: string) => decodeOutput(out, name, graph);
  return {
    logits: get('logits_out'),
    latent: get('latent_out'),
    pos: get('pos_out'),
    seen: get('seen_out'),
    past_k: get('k_out'),
    past_v: get('v_out'),
  };
}

/**
 * A decode state whose keys and values may lie in device memory ([layers, 1, heads, positions, head
 * dim] DeviceTensors of the native addon, from a prefill run through it), the rest on the host.
 */
export type CacheParts = Omit<DecodeState, 'past_k' | 'past_v'> & {
  past_k: Tensor | DeviceTensor;
  past_v: Tensor | DeviceTensor;
};

/** Whether a cache tensor is in host memory (a runtime Tensor), not a DeviceTensor of the addon. */
export function isHostTensor(t: Tensor | DeviceTensor): t is Tensor {
  return 'data' in t;
}

/** Releases the keys and values of a state that lie in device memory (host ones are left to the GC). */
export function releaseDeviceKv(s: CacheParts | null): void {
  if (s) for (const t of [s.past_k, s.past_v]) if (!isHostTensor(t)) t.release();
}

const kvBytes = (t: Tensor | DeviceTensor): number =>
  isHostTensor(t)
    ? (t.data as ArrayBufferView).byteLength
    : t.dims.reduce((a, b) => a * b, 1) * (t.type === 'float16' ? 2 : 4);

/**
 * The decode state between runs, owned by one generation: the KV cache ([layers, 1, heads,
 * positions, head dim], fp32 or fp16 as the graph wants) and the carried logits, latent, audio
 * position and the set of codes seen (for the repetition penalty). Tensors are swapped for the
 * graph's outputs after every run; `dispose` drops them.
 *
 * A prefill through the native addon for the fixed-shape step leaves the keys and values in device
 * memory (`onDevice`): such a cache is only taken over by the step (`take`), which writes them into a
 * slot without their crossing to the host and back; `feeds` refuses it. The cache owns such tensors:
 * `dispose` releases them.
 */
export class GptKvCache {
  private state: CacheParts | null;
  /** Prompt positions (conditioning + text + audio start). */
  readonly promptLength: number;

  /** promptLength: given for a cache that already holds generated positions (one that left a batch). */
  constructor(state: CacheParts, promptLength?: number) {
    this.state = state;
    this.promptLength = promptLength ?? (state.past_k.dims[3] as number);
  }

  /** Whether its keys and values lie in device memory. */
  get onDevice(): boolean {
    return !isHostTensor(this.live().past_k);
  }

  /** Positions held: prompt plus the codes fed back so far. */
  get length(): number {
    return this.live().past_k.dims[3] as number;
  }

  /** Codes generated so far (the position of the next code to feed, minus one). */
  get generated(): number {
    return Number((this.live().pos.data as BigInt64Array)[0]) - 1;
  }

  /** Bytes of keys and values: what one decode run moves in and out of the runtime. */
  get bytes(): number {
    const s = this.live();
    return kvBytes(s.past_k) + kvBytes(s.past_v);
  }

  feeds(): Record<string, Tensor> {
    const { past_k, past_v, ...rest } = this.live();
    if (!isHostTensor(past_k) || !isHostTensor(past_v))
      throw new Error('this GPT cache lies in device memory: only the fixed-shape step takes it (take)');
    return { ...rest, past_k, past_v };
  }

  /** Its parts as they are, for a check before `take`. */
  parts(): Readonly<CacheParts> {
    return this.live();
  }

  /** Hands the state over (device tensors included, not released): the cache is disposed. */
  take(): CacheParts {
    const s = this.live();
    this.state = null;
    return s;
  }

  update(out: Record<string, Tensor>): void {
    this.state = nextDecodeState(out);
  }

  get disposed(): boolean {
    return this.state === null;
  }

  dispose(): void {
    const s = this.state;
    this.state = null;
    releaseDeviceKv(s);
  }

  private live() {
    if (!this.state) throw new Error('GPT cache used after dispose');
    return this.state;
  }
}

export type PrefillResult = { cache: GptKvCache; logits: Float32Array; latent: Float32Array };
export type DecodeResult = { codes: number[]; latents: Float32Array; width: number };

export class Gpt {
  readonly prefillSession: Session;
  readonly decodeSession: Session;
  readonly vocab: number;
  /** Codes the reference's generate() sees as its dummy prompt (ids 1 and the audio start), penalised from step one. */
  readonly dummyIds: readonly number[];
  readonly stopCode: number;

  /**
   * One graph for both (the int8 variant, see the trainer's quantize.py and onnx_tools.share_gpt):
   * the decode graph with `cond` and `text_ids` inputs, whose first Loop iteration feeds the prompt
   * through the GPT when text_ids is not empty. Its GPT stack exists once, so the runtime holds each
   * weight once instead of once per graph.
   */
  readonly shared: boolean;
  /**
   * The prefill graph's session in the native addon (the same graph and session as `prefillSession`),
   * set where the fixed-shape step takes the caches: a prefill then leaves its keys and values in device
   * memory for the step's join (a GptKvCache `onDevice`) instead of sending them to the host and back.
   */
  devicePrefill: DeviceSession | null = null;
  /**
   * Set with devicePrefill where the prefill graph is gpt_prefill_batch_fp32 (Xtts.decodeMany), and then
   * every prefill runs through it: the prompts of streams that arrive together share a run
   * (native/prefill-batcher.ts).
   */
  devicePrefiller: DevicePrefiller | null = null;
  /**
   * Set with devicePrefill where the prefill graph is gpt_prefill_prefix_fp32 (PackageOptions.prefixCache),
   * and then every prefill runs through it: each voice's conditioning positions kept, each prompt's text
   * computed after them (native/prefix-cache.ts).
   */
  devicePrefixes: PrefixCache | null = null;
  /** The prefill graph is gpt_prefill_batch_fp32 (a batch of one here; it takes each row's text length). */
  private readonly batchedPrefill: boolean;
  /** [layers, 1, heads, 0, head dim]: the empty cache a shared graph's prefill run is fed. */
  private readonly emptyKv: readonly number[];
  private readonly width: number;
  /** Prompt passes in flight, and the one promise that resolves when none is (prefillsIdle). */
  private inFlight = 0;
  private idle: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(prefill: Session, decode: Session, tokens: { audioStart: number; audioStop: number; vocab: number }) {
    this.prefillSession = prefill;
    this.batchedPrefill = isBatchedPrefill(prefill);
    this.vocab = tokens.vocab;
    this.dummyIds = [1, tokens.audioStart];
    this.stopCode = tokens.audioStop;
    this.shared = decode.inputs.some((i) => i.name === 'text_ids');
    const kv = decode.inputs.find((i) => i.name === 'past_k')?.shape ?? [];
    const latent = decode.inputs.find((i) => i.name === 'latent')?.shape ?? [];
    this.emptyKv = kv.map((d, i) => (i === 3 ? 0 : typeof d === 'number' ? d : 1));
    this.width = typeof latent[1] === 'number' ? latent[1] : 0;
    if (this.shared && (this.emptyKv.length !== 5 || this.width <= 0))
      throw new Error(`${decode.path}: a shared GPT graph needs fixed past_k and latent widths`);
    // Fed as the decode graph is, a shared graph gets no prompt (cond [1, 0, D], text_ids [1, 0]) unless given one.
    const width = this.width;
    this.decodeSession = this.shared
      ? {
          ...decode,
          run: (feeds) =>
            decode.run({
              cond: tensor('float32', [], [1, 0, width]),
              text_ids: tensor('int64', [], [1, 0]),
              ...feeds,
            }),
        }
      : decode;
  }

  private seenAtStart(): Tensor {
    const seen = new Uint8Array(this.vocab);
    for (const id of this.dummyIds) seen[id] = 1;
    return tensor('bool', seen, [1, this.vocab]);
  }

  /** Prompt passes (prefill calls) begun and not yet ended. */
  get prefillsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Resolves when no prompt pass is in flight (at once when none is). Callers in the meantime share one
   * promise, so a caller that stops waiting (a decode window's timeout) leaves nothing behind.
   */
  prefillsIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    if (!this.idle) {
      let resolve: () => void = () => {};
      const promise = new Promise<void>((ok) => {
        resolve = ok;
      });
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }

  /** textIds: [START] ids... [STOP]. cond: [1, latents, width]. */
  async prefill(cond: Float32Array, condShape: readonly number[], textIds: readonly number[]): Promise<PrefillResult> {
    this.inFlight++;
    try {
      return await this.prefillOnce(cond, condShape, textIds);
    } finally {
      if (--this.inFlight === 0 && this.idle) {
        this.idle.resolve();
        this.idle = null;
      }
    }
  }

  private async prefillOnce(
    cond: Float32Array,
    condShape: readonly number[],
    textIds: readonly number[],
  ): Promise<PrefillResult> {
    if (this.shared) return this.sharedPrefill(cond, condShape, textIds);
    // Kept voice prefixes or shared runs: either answers with a row whose keys and values stay on the device.
    const prompts = this.devicePrefixes ?? this.devicePrefiller;
    if (prompts) {
      const r = await timed('prefill', () => prompts.prefill(cond, condShape, textIds));
      return this.prefilled(r.logits, r.latent, r.present_k, r.present_v);
    }
    if (this.devicePrefill) return this.prefillOnDevice(this.devicePrefill, cond, condShape, textIds);
    const out = await timed('prefill', () =>
      this.prefillSession.run({
        cond: tensor('float32', cond, condShape),
        text_ids: tensor('int64', textIds, [1, textIds.length]),
        ...(this.batchedPrefill ? { text_len: tensor('int64', [textIds.length], [1]) } : {}),
      }),
    );
    const { logits, latent, present_k, present_v } = out;
    if (!logits || !latent || !present_k || !present_v) throw new Error('gpt_prefill returned incomplete outputs');
    return this.prefilled(logits, latent, present_k, present_v);
  }

  /** A prefill's result: its cache at audio position 1, the dummy prompt's codes seen (unless `seen`). */
  private prefilled(
    logits: Tensor,
    latent: Tensor,
    pastK: CacheParts['past_k'],
    pastV: CacheParts['past_v'],
    seen = this.seenAtStart(),
  ): PrefillResult {
    const cache = new GptKvCache({
      logits,
      latent,
      pos: tensor('int64', [1], [1]),
      seen,
      past_k: pastK,
      past_v: pastV,
    });
    return { cache, logits: logits.data as Float32Array, latent: latent.data as Float32Array };
  }

  /** The prefill through the addon: logits and latent to the host, keys and values left on the device. */
  private async prefillOnDevice(
    session: DeviceSession,
    cond: Float32Array,
    condShape: readonly number[],
    textIds: readonly number[],
  ): Promise<PrefillResult> {
    const out = await timed('prefill', () =>
      session.run(
        {
          cond: { type: 'float32', dims: [...condShape], data: cond },
          text_ids: { type: 'int64', dims: [1, textIds.length], data: BigInt64Array.from(textIds, BigInt) },
        },
        { logits: 'cpu', latent: 'cpu', present_k: 'device', present_v: 'device' },
      ),
    );
    const host = (t: { data: unknown; dims: readonly number[] }) => tensorOf('float32', t.data as Float32Array, t.dims);
    return this.prefilled(host(out.logits), host(out.latent), out.present_k, out.present_v);
  }

  /** The shared graph's prefill: a run of one Loop iteration that feeds the prompt through the GPT. */
  private async sharedPrefill(cond: Float32Array, condShape: readonly number[], textIds: readonly number[]) {
    const seen = this.seenAtStart();
    const out = await this.decodeSession.run({
      cond: tensor('float32', cond, condShape),
      text_ids: tensor('int64', textIds, [1, textIds.length]),
      logits: tensor('float32', new Float32Array(this.vocab), [1, this.vocab]),
      latent: tensor('float32', new Float32Array(this.width), [1, this.width]),
      pos: tensor('int64', [1], [1]),
      seen,
      past_k: tensor('float32', [], this.emptyKv),
      past_v: tensor('float32', [], this.emptyKv),
      // One iteration, the prompt's: it changes neither pos nor seen; its code is a placeholder.
      ...this.settingsFeeds(new Float32Array([0.5]), greedy(1)),
    });
    const { logits_out: logits, latent_out: latent, k_out, v_out } = out;
    if (!logits || !latent || !k_out || !v_out) throw new Error('gpt prefill returned incomplete outputs');
    return this.prefilled(logits, latent, k_out, v_out, seen);
  }

  private settingsFeeds(uniforms: Float32Array, s: DecodeSettings): Record<string, Tensor> {
    return {
      max_steps: tensor('int64', [uniforms.length], []),
      uniforms: tensor('float32', uniforms, [uniforms.length]),
      stop_code: tensor('int64', [this.stopCode], [1]),
      temperature: tensor('float32', [s.temperature], []),
      top_k: tensor('int64', [Math.max(1, Math.min(s.topK > 0 ? s.topK : this.vocab, this.vocab))], []),
      top_p: tensor('float32', [s.topP], []),
      repetition_penalty: tensor('float32', [s.repetitionPenalty], []),
    };
  }

  /**
   * Samples up to `uniforms.length` codes (fewer when the stop code comes; it is included).
   * latents[i] is the hidden state that predicted codes[i].
   */
  async decode(cache: GptKvCache, uniforms: Float32Array, s: DecodeSettings): Promise<DecodeResult> {
    const out = await this.decodeSession.run({
      ...cache.feeds(),
      ...this.settingsFeeds(uniforms, s),
    });
    cache.update(out);
    const codes = out.codes;
    const latents = out.latents;
    if (!codes || !latents) throw new Error('gpt_decode returned no codes/latents');
    return {
      codes: Array.from(codes.data as BigInt64Array, Number),
      latents: latents.data as Float32Array,
      width: latents.dims[2] as number,
    };
  }
}
