/**
 * The batched decode graph (gpt_batch_*) driven through the native addon with its state in device
 * memory: each run's KV cache, logits, latent, position and seen-codes outputs stay on the device and
 * are the next run's inputs as they are; only the codes, latents and counts come back to the host.
 *
 * The members, their places and when to feed back or pack are xtts/batch.ts's BatchCore, shared with
 * the onnxruntime-node driver. Packing (a member joins or leaves, or one stopped early) happens in
 * host memory: the device state is brought back once, the rows packed as batch.ts packs them, and
 * the packed state given as host inputs (onnxruntime copies them to the device). In steady state (the
 * same members, each advancing by the whole run) nothing but the small per-run feeds crosses.
 */
import { type Feeds, type Tensor, tensorOf } from '../runtime/index.ts';
import { BatchCore, type BatchRunOutput } from '../xtts/batch.ts';
import type { DecodeState } from '../xtts/gpt.ts';
import type { DeviceSession, DeviceTensor, HostTensor } from './index.ts';
import { isDeviceTensor } from './index.ts';

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
  /** Bytes brought back to host memory for packing so far (the cost steady state avoids). */
  downloadedBytes = 0;

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
