/**
 * Each voice's conditioning positions kept on the device, so a prompt's prefill computes only its text
 * (the package's `gpt_prefill_prefix_fp32`, the trainer's graphs.PrefillPrefix, through the native addon).
 *
 * XTTS's prompt is [the voice's 32 conditioning latents, the text, the audio start], and attention is causal:
 * the keys and values of the first 32 positions depend on the voice alone. Here they are made once per voice
 * by a run over the conditioning alone (no text: [cond, audio start], its first 32 columns cut out on the
 * device by a small Slice graph) and every prompt of that voice is a run over [text, audio start] after them.
 * Every prompt goes both ways, a voice seen before or not, so a stream's numbers never depend on what the
 * cache held: within float rounding of the one-pass prefill (trainer/xtts/export/test_prefill_prefix.py), and
 * the same to the bit however requests interleave.
 *
 * Why: on an H200 at 64 streams a burst's 64 prompt passes took about 300 ms, most of a stream's first audio
 * (README); the conditioning is about 40 % of a short sentence's prompt positions.
 *
 * The kept prefixes are found by the conditioning's bytes (SHA-1), at most `voices` of them, least recently
 * used dropped first (never one a run is reading: then the cache holds one more until that run ends).
 * Concurrent prompts of a voice not yet kept share its one conditioning run.
 */
import { createHash } from 'node:crypto';
import { tensorOf } from '../runtime/index.ts';
import { DeviceSession, type DeviceTensor, type HostTensor } from './index.ts';
import { type PrefillRow, promptError, rowSliceGraph } from './prefill-batcher.ts';

/** Whether a prefill graph continues from past keys and values (gpt_prefill_prefix_*). */
export function isPrefixPrefill(graph: { readonly inputs: readonly { readonly name: string }[] }): boolean {
  return graph.inputs.some((i) => i.name === 'past_k');
}

/** What the cache has done: prompts, voices computed (misses), voices dropped, voices kept now. */
export type PrefixCacheStats = { prompts: number; computed: number; dropped: number; kept: number };

type Entry = { k: DeviceTensor; v: DeviceTensor; readers: number };

export class PrefixCache {
  readonly voices: number;
  private readonly session: DeviceSession;
  private slicer: DeviceSession | null = null;
  /** Kept prefixes by key, least recently used first (a Map keeps insertion order). */
  private readonly kept = new Map<string, Entry>();
  /** Conditioning runs in flight, by key. */
  private readonly making = new Map<string, Promise<void>>();
  private readonly counts = { prompts: 0, computed: 0, dropped: 0 };
  private closed = false;

  /** `session`: gpt_prefill_prefix_fp32 opened through the addon; `voices`: prefixes kept at most (>= 1). */
  constructor(session: DeviceSession, options: { voices: number }) {
    if (!isPrefixPrefill(session)) throw new Error(`${session.path}: not a prefix prefill graph (no past_k input)`);
    this.session = session;
    this.voices = Math.max(1, Math.floor(options.voices));
  }

  get stats(): PrefixCacheStats {
    return { ...this.counts, kept: this.kept.size };
  }

  /** One prompt's prefill: cond [1, latents, D] (the voice), textIds [START] ... [STOP]. */
  async prefill(cond: Float32Array, condShape: readonly number[], textIds: readonly number[]): Promise<PrefillRow> {
    if (this.closed) throw new Error('prefill after the prefix cache was closed');
    const bad = promptError(cond, condShape, textIds);
    if (bad) throw new Error(bad);
    const [, latents, width] = condShape as [number, number, number];
    const key = `${latents}x${width}:${createHash('sha1')
      .update(new Uint8Array(cond.buffer, cond.byteOffset, cond.byteLength))
      .digest('hex')}`;
    const entry = await this.acquire(key, cond, condShape);
    try {
      const out = await this.session.run(
        {
          cond: { type: 'float32', dims: [1, 0, width], data: new Float32Array(0) },
          past_k: entry.k,
          past_v: entry.v,
          text_ids: { type: 'int64', dims: [1, textIds.length], data: BigInt64Array.from(textIds, BigInt) },
        },
        { logits: 'cpu', latent: 'cpu', present_k: 'device', present_v: 'device' },
      );
      this.counts.prompts++;
      const host = (t: HostTensor) => tensorOf('float32', t.data as Float32Array, t.dims);
      return { logits: host(out.logits), latent: host(out.latent), present_k: out.present_k, present_v: out.present_v };
    } finally {
      entry.readers--;
      this.trim();
    }
  }

  /** Releases every kept prefix and the slicing graph; later prompts are refused. */
  close(): void {
    this.closed = true;
    for (const e of this.kept.values()) {
      e.k.release();
      e.v.release();
    }
    this.kept.clear();
    this.slicer?.release();
    this.slicer = null;
  }

  /**
   * The voice's prefix, counted as read by the caller (so no trim drops it while the caller's run reads it):
   * kept (now the most recently used), being made by another prompt's run, or made now. The count is taken
   * in the same turn as the lookup; a prefix made and then dropped before this caller's turn came is made
   * again.
   */
  private async acquire(key: string, cond: Float32Array, condShape: readonly number[]): Promise<Entry> {
    for (;;) {
      if (this.closed) throw new Error('prefill after the prefix cache was closed');
      const hit = this.kept.get(key);
      if (hit) {
        this.kept.delete(key);
        this.kept.set(key, hit);
        hit.readers++;
        return hit;
      }
      let made = this.making.get(key);
      if (!made) {
        made = this.make(cond, condShape).then(
          (e) => {
            this.making.delete(key);
            if (this.closed) {
              e.k.release();
              e.v.release();
              throw new Error('prefill after the prefix cache was closed');
            }
            this.kept.set(key, e);
            this.counts.computed++;
          },
          (err: unknown) => {
            this.making.delete(key);
            throw err;
          },
        );
        this.making.set(key, made);
      }
      await made;
    }
  }

  /** A run over the conditioning alone ([cond, audio start]), its first `latents` columns cut out. */
  private async make(cond: Float32Array, condShape: readonly number[]): Promise<Entry> {
    const [, latents, width] = condShape as [number, number, number];
    const past = this.session.inputs.find((i) => i.name === 'past_k')?.shape ?? [];
    const [layers, , heads, , headDim] = past;
    if (typeof layers !== 'number' || typeof heads !== 'number' || typeof headDim !== 'number')
      throw new Error(`${this.session.path}: past_k's layers, heads and head size are not fixed (${past})`);
    const empty = { type: 'float32', dims: [layers, 1, heads, 0, headDim], data: new Float32Array(0) };
    const out = await this.session.run(
      {
        cond: { type: 'float32', dims: [1, latents, width], data: cond },
        past_k: empty,
        past_v: empty,
        text_ids: { type: 'int64', dims: [1, 0], data: new BigInt64Array(0) },
      },
      { present_k: 'device', present_v: 'device' },
    );
    try {
      this.slicer ??= DeviceSession.openBeside(this.session, rowSliceGraph(), 'prefix slice graph');
      const cut = await this.slicer.run(
        {
          k: out.present_k,
          v: out.present_v,
          row: { type: 'int64', dims: [1], data: BigInt64Array.of(0n) },
          len: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(latents)) },
        },
        { k_row: 'device', v_row: 'device' },
      );
      return { k: cut.k_row, v: cut.v_row, readers: 0 };
    } finally {
      out.present_k.release();
      out.present_v.release();
    }
  }

  /** Drops the least recently used prefixes past `voices`, skipping any a run is reading. */
  private trim(): void {
    for (const [key, e] of this.kept) {
      if (this.kept.size <= this.voices) break;
      if (e.readers > 0) continue;
      this.kept.delete(key);
      e.k.release();
      e.v.release();
      this.counts.dropped++;
    }
  }
}
