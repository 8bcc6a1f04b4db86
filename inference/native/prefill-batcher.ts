/**
 * Prompts of several streams in one prefill run: the package's `gpt_prefill_batch_fp32` (the trainer's
 * graphs.PrefillBatch: text right-padded, each row's logits, latent and keys and values those of the
 * batch-1 prefill in its own columns) through the native addon, its keys and values left in device memory.
 *
 * One run is in flight at a time; prompts that arrive meanwhile wait, and the next run takes them all (up
 * to `maxRows`, in the order they came). A run's keys and values are [L, B, H, P, dh] on the device; each
 * row's own [L, 1, H, P_b, dh] (P_b = latents + its text + 1) is cut out of them on the device by a small
 * graph (Gather of the row, Slice of its columns), so each stream gets the cache a batch-1 prefill would
 * have left it, and the step's join (static.ts) reads it where it lies.
 *
 * Why: 64 streams that arrive together made 64 batch-1 prefills, each some 1,400 short kernels, all beside
 * the decode and HiFi-GAN on one GPU (142 ms each on average under that load on an H200, 18–24 alone).
 */
import type { Tensor } from '../runtime/index.ts';
import { tensorOf } from '../runtime/index.ts';
import { DeviceSession, type DeviceTensor, type HostTensor } from './index.ts';
import { constant, int64Proto, model, node } from './onnx-build.ts';

export type PrefillRow = {
  logits: Tensor;
  latent: Tensor;
  present_k: DeviceTensor;
  present_v: DeviceTensor;
};

type Job = {
  cond: Float32Array;
  condShape: readonly number[];
  textIds: readonly number[];
  resolve: (r: PrefillRow) => void;
  reject: (e: Error) => void;
};

/** Whether a prefill graph is the batched one (gpt_prefill_batch_*): it takes each row's text length. */
export function isBatchedPrefill(graph: { readonly inputs: readonly { readonly name: string }[] }): boolean {
  return graph.inputs.some((i) => i.name === 'text_len');
}

/** Why a prompt cannot be prefilled (cond not [1, latents, width], no text ids), or null: the device prefill paths' check. */
export function promptError(
  cond: Float32Array,
  condShape: readonly number[],
  textIds: readonly number[],
): string | null {
  if (condShape.length !== 3 || condShape[0] !== 1 || cond.length !== condShape[1]! * condShape[2]!)
    return `prefill: cond of ${cond.length} values is not [1, latents, width] ${condShape}`;
  return textIds.length === 0 ? 'prefill: no text ids' : null;
}

/** What the prefiller has run: runs, prompts, and runs by their number of prompts. */
export type PrefillBatchStats = { runs: number; prompts: number; sizes: Record<number, number> };

/**
 * The graph that cuts one row's cache out of a batched prefill's: k, v [L, B, H, P, dh], row and len
 * int64 [1] (host) -> k_row, v_row [L, 1, H, len, dh].
 */
export function rowSliceGraph(): Uint8Array {
  const nodes = [constant('zero', int64Proto([0], [1])), constant('axis3', int64Proto([3], [1]))];
  for (const x of ['k', 'v'])
    nodes.push(
      node('Gather', [x, 'row'], [`${x}_one`], [{ name: 'axis', i: 1 }]),
      node('Slice', [`${x}_one`, 'zero', 'len', 'axis3'], [`${x}_row`]),
    );
  const kv = ['layers', 'batch', 'heads', 'prompt', 'head_dim'];
  const out = ['layers', 1, 'heads', 'len', 'head_dim'];
  return model(
    'prefill_row_slice',
    nodes,
    [
      ['k', 'float32', kv],
      ['v', 'float32', kv],
      ['row', 'int64', [1]],
      ['len', 'int64', [1]],
    ],
    [
      ['k_row', 'float32', out],
      ['v_row', 'float32', out],
    ],
  );
}

export class DevicePrefiller {
  readonly maxRows: number;
  private readonly session: DeviceSession;
  private readonly padToken: number;
  private slicer: DeviceSession | null = null;
  private readonly waiting: Job[] = [];
  private running = false;
  private closed = false;
  private readonly counts: PrefillBatchStats = { runs: 0, prompts: 0, sizes: {} };

  /**
   * `session`: gpt_prefill_batch_fp32 opened through the addon; `padToken`: the id that pads a shorter
   * prompt's text (any id: its positions come after the row's own and no real position attends them).
   */
  constructor(session: DeviceSession, options: { maxRows: number; padToken: number }) {
    if (!isBatchedPrefill(session)) throw new Error(`${session.path}: not a batched prefill graph (no text_len input)`);
    this.session = session;
    this.maxRows = Math.max(1, Math.floor(options.maxRows));
    this.padToken = options.padToken;
  }

  get stats(): PrefillBatchStats {
    return { ...this.counts, sizes: { ...this.counts.sizes } };
  }

  /** One prompt's prefill: cond [1, latents, D], textIds [START] ... [STOP]. */
  prefill(cond: Float32Array, condShape: readonly number[], textIds: readonly number[]): Promise<PrefillRow> {
    if (this.closed) return Promise.reject(new Error('prefill after the prefiller was closed'));
    const bad = promptError(cond, condShape, textIds);
    if (bad) return Promise.reject(new Error(bad));
    return new Promise((resolve, reject) => {
      this.waiting.push({ cond, condShape, textIds, resolve, reject });
      this.pump();
    });
  }

  /** Releases the slicing graph; prompts still waiting are refused. */
  close(): void {
    this.closed = true;
    for (const j of this.waiting.splice(0)) j.reject(new Error('the prefiller was closed'));
    this.slicer?.release();
    this.slicer = null;
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    this.running = true;
    void this.next().finally(() => {
      this.running = false;
      this.pump();
    });
  }

  /** One run over the prompts waiting now (taken before the first await). */
  private async next(): Promise<void> {
    const jobs = this.waiting.splice(0, this.maxRows);
    let k: DeviceTensor | null = null;
    let v: DeviceTensor | null = null;
    // Rows cut out so far: released if a later step fails (their jobs are refused).
    const cutOut: DeviceTensor[] = [];
    try {
      const b = jobs.length;
      const [, latents, width] = (jobs[0] as Job).condShape as [number, number, number];
      for (const j of jobs)
        if (j.condShape[1] !== latents || j.condShape[2] !== width)
          throw new Error(
            `prefill: conditioning shapes differ in one run (${j.condShape} and [1, ${latents}, ${width}])`,
          );
      const t = Math.max(...jobs.map((j) => j.textIds.length));
      const cond = new Float32Array(b * latents * width);
      const ids = new BigInt64Array(b * t).fill(BigInt(this.padToken));
      const lens = new BigInt64Array(b);
      for (const [r, j] of jobs.entries()) {
        cond.set(j.cond, r * latents * width);
        ids.set(BigInt64Array.from(j.textIds, BigInt), r * t);
        lens[r] = BigInt(j.textIds.length);
      }
      const out = await this.session.run(
        {
          cond: { type: 'float32', dims: [b, latents, width], data: cond },
          text_ids: { type: 'int64', dims: [b, t], data: ids },
          text_len: { type: 'int64', dims: [b], data: lens },
        },
        { logits: 'cpu', latent: 'cpu', present_k: 'device', present_v: 'device' },
      );
      k = out.present_k;
      v = out.present_v;
      const logits = out.logits as HostTensor;
      const latent = out.latent as HostTensor;
      const vocab = logits.dims[1] as number;
      const rows: PrefillRow[] = [];
      for (const [r, j] of jobs.entries()) {
        const p = latents + j.textIds.length + 1;
        let rk = k;
        let rv = v;
        if (b > 1 || p !== k.dims[3]) {
          const cut = await this.slice().run(
            {
              k,
              v,
              row: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(r)) },
              len: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(p)) },
            },
            { k_row: 'device', v_row: 'device' },
          );
          rk = cut.k_row;
          rv = cut.v_row;
          cutOut.push(rk, rv);
        }
        rows.push({
          logits: tensorOf('float32', (logits.data as Float32Array).slice(r * vocab, (r + 1) * vocab), [1, vocab]),
          latent: tensorOf('float32', (latent.data as Float32Array).slice(r * width, (r + 1) * width), [1, width]),
          present_k: rk,
          present_v: rv,
        });
      }
      // The run's own cache, unless one row took it as it is (a run of one).
      if (rows[0]?.present_k !== k) {
        k.release();
        v.release();
      }
      this.counts.runs++;
      this.counts.prompts += b;
      this.counts.sizes[b] = (this.counts.sizes[b] ?? 0) + 1;
      for (const [r, j] of jobs.entries()) j.resolve(rows[r] as PrefillRow);
    } catch (e) {
      for (const x of cutOut) x.release();
      k?.release();
      v?.release();
      const err = e instanceof Error ? e : new Error(String(e));
      for (const j of jobs) j.reject(err);
    }
  }

  /** The row-slicing graph, on the prefill's device. */
  private slice(): DeviceSession {
    if (this.closed) throw new Error('the prefiller was closed');
    this.slicer ??= DeviceSession.openBeside(this.session, rowSliceGraph(), 'row slice graph');
    return this.slicer;
  }
}
