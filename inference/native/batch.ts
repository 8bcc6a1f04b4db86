/**
 * The batched decode graph (gpt_batch_*) driven through the native addon with its state in device
 * memory: each run's KV cache, logits, latent, position and seen-codes outputs stay on the device and
 * are the next run's inputs as they are; only the codes, latents and counts come back to the host.
 *
 * The members, their places and when to feed back or pack are xtts/batch.ts's BatchCore, shared with
 * the onnxruntime-node driver. In steady state (the same members, each advancing by the whole run)
 * nothing but the small per-run feeds crosses. When the batch changes (a member joins or leaves, or
 * one stopped early), the packing graph (pack-graph.ts) makes the new batch on the device from the
 * rows kept from one device state and the joining rows (host memory, batch-1 caches from the
 * prefill), so only those cross. Rows from more than one device state (a member sat a run out) are
 * packed in host memory instead, as batch.ts packs them: the device states come back once.
 */
import { type Feeds, type Tensor, tensor, tensorOf } from '../runtime/index.ts';
import { BatchCore, type BatchRunOutput, type Place, packPlaces } from '../xtts/batch.ts';
import type { DecodeState } from '../xtts/gpt.ts';
import { DeviceSession, type DeviceTensor, type HostTensor, isDeviceTensor } from './index.ts';
import { packGraph } from './pack-graph.ts';

export type DeviceDecodeState = Record<keyof DecodeState, DeviceTensor>;

const STATE_OUT = {
  logits: 'logits_out',
  latent: 'latent_out',
  pos: 'pos_out',
  seen: 'seen_out',
  past_k: 'k_out',
  past_v: 'v_out',
} as const satisfies Record<keyof DecodeState, string>;

const OUTPUTS = {
  codes: 'cpu',
  latents: 'cpu',
  counts: 'cpu',
  logits_out: 'device',
  latent_out: 'device',
  pos_out: 'device',
  seen_out: 'device',
  k_out: 'device',
  v_out: 'device',
} as const;

function isDeviceState(s: DeviceDecodeState | DecodeState): s is DeviceDecodeState {
  return isDeviceTensor(s.past_k);
}

export class DeviceBatchedGpt extends BatchCore<DeviceDecodeState> {
  readonly session: DeviceSession;
  /** Bytes brought back to host memory for packing so far. */
  downloadedBytes = 0;
  /** Runs packed on the device, and in host memory. */
  packs = { device: 0, host: 0 };
  private packer: DeviceSession | null = null;

  constructor(session: DeviceSession, tokens: { audioStop: number }) {
    super(
      session.path,
      session.inputs.map((i) => ({ name: i.name, dtype: i.type, shape: i.shape })),
      tokens,
    );
    this.session = session;
  }

  protected hostState(state: DeviceDecodeState | DecodeState): DecodeState {
    if (!isDeviceState(state)) return state;
    // Rows from more than one device state, or a member leaving: brought back to host memory.
    const host = (t: DeviceTensor): Tensor => {
      const data = t.download();
      this.downloadedBytes += data.byteLength;
      return tensorOf(t.type as 'float32', data as Float32Array, t.dims);
    };
    return {
      logits: host(state.logits),
      latent: host(state.latent),
      pos: host(state.pos),
      seen: host(state.seen),
      past_k: host(state.past_k),
      past_v: host(state.past_v),
    };
  }

  protected async runGraph(
    state: DeviceDecodeState | DecodeState,
    feeds: Feeds,
  ): Promise<BatchRunOutput<DeviceDecodeState>> {
    const out = await this.session.run({ ...state, ...feeds }, OUTPUTS);
    const host = (t: HostTensor) => t.data;
    const next = Object.fromEntries(
      Object.entries(STATE_OUT).map(([k, o]) => [k, out[o as keyof typeof OUTPUTS]]),
    ) as DeviceDecodeState;
    return {
      next,
      codes: host(out.codes) as BigInt64Array,
      latents: host(out.latents) as Float32Array,
      counts: host(out.counts) as BigInt64Array,
      steps: out.codes.dims[1] as number,
    };
  }

  protected override async packForRun(
    places: readonly Place<DeviceDecodeState>[],
  ): Promise<DeviceDecodeState | DecodeState> {
    const sources = new Set(places.map((x) => x.state).filter(isDeviceState));
    if (sources.size !== 1) {
      this.packs.host++;
      return this.packHost(places);
    }
    this.packs.device++;
    const dev = [...sources][0] as DeviceDecodeState;
    const { layers, heads, headDim } = this.dims;
    const lhd = layers * heads * headDim;
    const joining: Place<DecodeState>[] = [];
    for (const x of places) if (!isDeviceState(x.state)) joining.push({ ...x, state: x.state });
    const fresh = joining.length > 0 ? packPlaces(this.dims, joining) : this.emptyHost();
    const bs = dev.past_k.dims[1] as number;
    const ps = dev.past_k.dims[3] as number;
    const bn = fresh.past_k.dims[1] as number;
    const pn = fresh.past_k.dims[3] as number;
    const b = places.length;
    const p = Math.max(...places.map((x) => x.length));
    const zero = bs * ps + bn * pn;
    const idx = new BigInt64Array(b * p);
    const rows = new BigInt64Array(b);
    let j = 0;
    places.forEach((x, i) => {
      const pad = p - x.length;
      // Column c of packed row i holds the member's column c - pad, which is column
      // (start + c - pad) of its row in the device state, or (pn - length + c - pad) of its joining row.
      const onDevice = isDeviceState(x.state);
      const base = onDevice ? x.row * ps + x.start - pad : bs * ps + j * pn + pn - x.length - pad;
      rows[i] = BigInt(onDevice ? x.row : bs + j);
      if (!onDevice) j++;
      for (let c = 0; c < p; c++) idx[i * p + c] = BigInt(c < pad ? zero : base + c);
    });
    const int64 = (v: readonly number[]) => tensor('int64', v, [v.length]);
    const out = await this.packSession().run(
      {
        dev_k: dev.past_k,
        dev_v: dev.past_v,
        new_k: fresh.past_k,
        new_v: fresh.past_v,
        dev_flat: int64([bs * ps, lhd]),
        new_flat: int64([bn * pn, lhd]),
        zero_shape: int64([1, lhd]),
        idx: tensorOf('int64', idx, [b * p]),
        out_shape: int64([b, p, layers, heads, headDim]),
        dev_logits: dev.logits,
        new_logits: fresh.logits,
        dev_latent: dev.latent,
        new_latent: fresh.latent,
        dev_seen: dev.seen,
        new_seen: fresh.seen,
        rows: tensorOf('int64', rows, [b]),
      },
      { past_k: 'device', past_v: 'device', logits: 'device', latent: 'device', seen: 'device' },
    );
    return {
      ...out,
      pos: this.session.alloc(
        'int64',
        [b],
        BigInt64Array.from(places, (x) => x.pos),
      ),
    };
  }

  /** The packing graph's session, on the batched graph's device (opened on first use). */
  private packSession(): DeviceSession {
    if (!this.packer) {
      const { device, deviceId } = this.session.options;
      this.packer = DeviceSession.open(packGraph(this.dims.kvType), {
        device,
        ...(deviceId !== undefined ? { deviceId } : {}),
        name: `${this.session.path} (packing graph)`,
      });
    }
    return this.packer;
  }

  /** No joining rows: empty tensors of the right ranks. */
  private emptyHost(): DecodeState {
    const { layers, heads, headDim, vocab, width, kvType } = this.dims;
    const kv = () =>
      tensorOf(kvType, kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [layers, 0, heads, 0, headDim]);
    return {
      logits: tensorOf('float32', new Float32Array(0), [0, vocab]),
      latent: tensorOf('float32', new Float32Array(0), [0, width]),
      pos: tensorOf('int64', new BigInt64Array(0), [0]),
      seen: tensorOf('bool', new Uint8Array(0), [0, vocab]),
      past_k: kv(),
      past_v: kv(),
    };
  }

  /** Closes the packing graph's session (the batched graph's session is the caller's). */
  close(): void {
    this.packer?.release();
    this.packer = null;
  }

  protected override releaseState(state: DeviceDecodeState | DecodeState): void {
    if (isDeviceState(state)) for (const t of Object.values(state)) t.release();
  }

  /** Where a member's state is: 'device' (a run's outputs) or 'host' (just joined, or packed). */
  residence(id: number): 'device' | 'host' {
    return isDeviceState(this.placeOf(id).state) ? 'device' : 'host';
  }

  /** A member's audio position read back from its state (a check on `generated`, which is kept on the host). */
  storedPosition(id: number): bigint {
    const p = this.placeOf(id);
    const pos = isDeviceState(p.state) ? p.state.pos.download() : (p.state.pos.data as BigInt64Array);
    return pos[p.row] as bigint;
  }
}
