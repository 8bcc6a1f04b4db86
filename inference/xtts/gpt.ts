/**
 * The GPT driver: prefill over [conditioning latents, [START] text [STOP], audio start], then
 * decode runs of the exported Loop graph. Each decode run samples up to N codes inside one
 * `run()` (the sampler is in the graph, fed with uniforms from the caller's seeded RNG), so the
 * KV cache crosses the runtime boundary once per run instead of once per code: onnxruntime-node
 * cannot keep outputs on the GPU between runs.
 */
import { GREEDY } from '../generation/config.ts';
import { type Session, type Tensor, tensor } from '../runtime/index.ts';

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

/**
 * The decode state between runs, owned by one generation: the KV cache ([layers, 1, heads,
 * positions, head dim], fp32 or fp16 as the graph wants) and the carried logits, latent, audio
 * position and the set of codes seen (for the repetition penalty). Tensors are swapped for the
 * graph's outputs after every run; `dispose` drops them.
 */
export class GptKvCache {
  private state: Record<'logits' | 'latent' | 'pos' | 'seen' | 'past_k' | 'past_v', Tensor> | null;
  /** Prompt positions (conditioning + text + audio start). */
  readonly promptLength: number;

  constructor(state: Record<'logits' | 'latent' | 'pos' | 'seen' | 'past_k' | 'past_v', Tensor>) {
    this.state = state;
    this.promptLength = state.past_k.dims[3] as number;
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
    return (s.past_k.data as ArrayBufferView).byteLength + (s.past_v.data as ArrayBufferView).byteLength;
  }

  feeds(): Record<string, Tensor> {
    return { ...this.live() };
  }

  update(out: Record<string, Tensor>): void {
    const get = (name: string) => {
      const t = out[name];
      if (!t) throw new Error(`gpt_decode returned no ${name}`);
      return t;
    };
    this.state = {
      logits: get('logits_out'),
      latent: get('latent_out'),
      pos: get('pos_out'),
      seen: get('seen_out'),
      past_k: get('k_out'),
      past_v: get('v_out'),
    };
  }

  get disposed(): boolean {
    return this.state === null;
  }

  dispose(): void {
    this.state = null;
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

  constructor(prefill: Session, decode: Session, tokens: { audioStart: number; audioStop: number; vocab: number }) {
    this.prefillSession = prefill;
    this.decodeSession = decode;
    this.vocab = tokens.vocab;
    this.dummyIds = [1, tokens.audioStart];
    this.stopCode = tokens.audioStop;
  }

  /** textIds: [START] ids... [STOP]. cond: [1, latents, width]. */
  async prefill(cond: Float32Array, condShape: readonly number[], textIds: readonly number[]): Promise<PrefillResult> {
    const out = await this.prefillSession.run({
      cond: tensor('float32', cond, condShape),
      text_ids: tensor('int64', textIds, [1, textIds.length]),
    });
    const { logits, latent, present_k, present_v } = out;
    if (!logits || !latent || !present_k || !present_v) throw new Error('gpt_prefill returned incomplete outputs');
    const seen = new Uint8Array(this.vocab);
    for (const id of this.dummyIds) seen[id] = 1;
    const cache = new GptKvCache({
      logits,
      latent,
      pos: tensor('int64', [1], [1]),
      seen: tensor('bool', seen, [1, this.vocab]),
      past_k: present_k,
      past_v: present_v,
    });
    return { cache, logits: logits.data as Float32Array, latent: latent.data as Float32Array };
  }

  /**
   * Samples up to `uniforms.length` codes (fewer when the stop code comes; it is included).
   * latents[i] is the hidden state that predicted codes[i].
   */
  async decode(cache: GptKvCache, uniforms: Float32Array, s: DecodeSettings): Promise<DecodeResult> {
    const out = await this.decodeSession.run({
      ...cache.feeds(),
      max_steps: tensor('int64', [uniforms.length], []),
      uniforms: tensor('float32', uniforms, [uniforms.length]),
      stop_code: tensor('int64', [this.stopCode], [1]),
      temperature: tensor('float32', [s.temperature], []),
      top_k: tensor('int64', [Math.max(1, Math.min(s.topK > 0 ? s.topK : this.vocab, this.vocab))], []),
      top_p: tensor('float32', [s.topP], []),
      repetition_penalty: tensor('float32', [s.repetitionPenalty], []),
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
