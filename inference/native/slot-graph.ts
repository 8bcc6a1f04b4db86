/**
 * The small graphs StaticGpt (static.ts) runs beside the fixed-shape decode step, built in memory: one
 * writes a joining sequence into a slot of the step's state, in place; one reads a slot back.
 *
 * Write (each state output bound to its input's tensor, so the write costs the slot only):
 *   cache_k, cache_v  T [L, S, H, M, dh]   the step's KV cache
 *   new_k, new_v      T [L, H, P, dh]      the sequence's cache (a batch-1 cache's data as it is)
 *   (inside)          kv_idx [L, H, P, 4]  (layer, slot, head, column) of each of its rows of dh, made from
 *                                          new_k's shape and row_idx: ScatterND writes the P columns and
 *                                          nothing else (no padding to M: a slot's columns past its length
 *                                          hold finite values already, zeros from the allocation or K/V
 *                                          written there before, which is all the step asks of them; the
 *                                          padded write cost about 300 ms a join on an H200 at M = 1038)
 *   X, new_X          for X in logits (float [S, V]), latent (float [S, D]), seen (bool [S, V]),
 *                     pos, length (int64 [S]), done (bool [S]): the state and the slot's new row ([1, ...])
 *   row_idx           int64 [1, 1]         [[slot]]
 * Outputs X_out for every state X: ScatterND(X, index, update).
 *
 * With K in the `ft` layout (KLayout) the graphs take cache_k as [L, S, H, dh / 4, M, 4] and move new_k
 * into it (and a slot's columns out of it) through a Transpose; new_k and past_k stay [.., P, dh].
 *
 * Read: cache_k, cache_v, all_logits, all_latent, all_seen (the state as above), `row` int64 [1] and `ends` int64 [1] (the
 * slot's length) -> past_k, past_v T [L, 1, H, length, dh] and logits, latent, seen [1, ...]: the slot
 * as a batch-1 decode state.
 */
import { constant, type Io, int64Proto, model, node, type Pb } from './onnx-build.ts';

const ROWS = [
  ['logits', 'float32'],
  ['latent', 'float32'],
  ['seen', 'bool'],
  ['pos', 'int64'],
  ['length', 'int64'],
  ['done', 'bool'],
] as const;

/**
 * K's layout in the step's cache: `bnsh` [L, S, H, M, dh] as V's; `ft` [L, S, H, dh / 4, M, 4], the layout
 * onnxruntime's CUDA DecoderMaskedMultiHeadAttention reads (gpt_step_static_dmmha exported for CUDA), in
 * which a column of a head is dh / 4 pieces of 4 values, M * 4 values apart.
 */
export type KLayout = 'bnsh' | 'ft';

/**
 * Nodes making `out`, the ScatterND index of every element of `src` over its first `n` dims, with the slot
 * (row_idx) inserted after the first: [d0, ..., d(n-1), n + 1] of (i0, slot, i1, ..., i(n-1)).
 */
function slotIndex(src: string, n: number, out: string): Pb[] {
  const p = `${out}/`;
  const c = (name: string, v: number[]) => constant(name, int64Proto(v, [v.length]));
  const nodes: Pb[] = [
    node('Shape', [src], [`${p}shape`]),
    constant(`${p}zero`, int64Proto([0], [])),
    constant(`${p}one`, int64Proto([1], [])),
    c(`${p}ax0`, [0]),
    c(`${p}last`, [1]),
  ];
  for (let i = 0; i <= n; i++) nodes.push(c(`${p}at${i}`, [i]));
  const dims: string[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(node('Slice', [`${p}shape`, `${p}at${i}`, `${p}at${i + 1}`], [`${p}dim${i}`]));
    dims.push(`${p}dim${i}`);
  }
  nodes.push(node('Concat', [...dims, `${p}last`], [`${p}grid`], [{ name: 'axis', i: 0 }]));
  const coords: string[] = [];
  for (let i = 0; i < n; i++) {
    const shape = Array.from({ length: n + 1 }, (_, j) => (j === i ? -1 : 1));
    nodes.push(
      node('Squeeze', [`${p}dim${i}`, `${p}ax0`], [`${p}n${i}`]),
      node('Range', [`${p}zero`, `${p}n${i}`, `${p}one`], [`${p}r${i}`]),
      c(`${p}shape_r${i}`, shape),
      node('Reshape', [`${p}r${i}`, `${p}shape_r${i}`], [`${p}rr${i}`]),
      node('Expand', [`${p}rr${i}`, `${p}grid`], [`${p}g${i}`]),
    );
    coords.push(`${p}g${i}`);
  }
  nodes.push(
    c(`${p}ones`, Array(n + 1).fill(1)),
    node('Reshape', ['row_idx', `${p}ones`], [`${p}slot1`]),
    node('Expand', [`${p}slot1`, `${p}grid`], [`${p}gs`]),
    node('Concat', [coords[0] as string, `${p}gs`, ...coords.slice(1)], [out], [{ name: 'axis', i: n }]),
  );
  return nodes;
}

type KvType = 'float32' | 'float16';

/** ONNX's element type number of a cache type (for Cast's `to`). */
const ONNX_TYPE: Record<KvType, number> = { float32: 1, float16: 10 };

/**
 * The write graph's ModelProto for a cache of element type `kv`, K in `layout`, taking the sequence's
 * keys and values as `from` (cast to `kv` on the device when they differ: an fp32 prefill's cache into an
 * fp16 step's).
 */
export function slotWriteGraph(kv: KvType, layout: KLayout = 'bnsh', from: KvType = kv): Uint8Array {
  const nodes: Pb[] = [];
  const inputs: Io[] = [];
  const outputs: Io[] = [];
  // new_k / new_v as the cache's type: the inputs themselves, or their casts.
  const [newK, newV] = from === kv ? ['new_k', 'new_v'] : ['new_k/as_kv', 'new_v/as_kv'];
  if (from !== kv)
    nodes.push(
      node('Cast', ['new_k'], [newK], [{ name: 'to', i: ONNX_TYPE[kv] }]),
      node('Cast', ['new_v'], [newV], [{ name: 'to', i: ONNX_TYPE[kv] }]),
    );
  // kv_idx [L, H, P, 4]: (layer, slot, head, column) of each of new_v's rows of dh, from its shape and the slot.
  nodes.push(...slotIndex('new_v', 3, 'kv_idx'));
  if (layout === 'ft') {
    // new_k [L, H, P, dh] as [L, H, dh / 4, P, 4]; its index (layer, slot, head, piece, column) per 4 values.
    nodes.push(
      constant('k/shape5', int64Proto([0, 0, 0, -1, 4], [5])),
      node('Reshape', [newK, 'k/shape5'], ['k/split']),
      node('Transpose', ['k/split'], ['k/ft'], [{ name: 'perm', ints: [0, 1, 3, 2, 4] }]),
      ...slotIndex('k/ft', 4, 'k_idx'),
      node('ScatterND', ['cache_k', 'k_idx', 'k/ft'], ['cache_k_out']),
    );
  } else {
    nodes.push(node('ScatterND', ['cache_k', 'kv_idx', newK], ['cache_k_out']));
  }
  nodes.push(node('ScatterND', ['cache_v', 'kv_idx', newV], ['cache_v_out']));
  const kRank = layout === 'ft' ? 6 : 5;
  inputs.push(['cache_k', kv, kRank], ['new_k', from, 4], ['cache_v', kv, 5], ['new_v', from, 4]);
  outputs.push(['cache_k_out', kv, kRank], ['cache_v_out', kv, 5]);
  inputs.push(['row_idx', 'int64', [1, 1]]);
  for (const [r, t] of ROWS) {
    const rank = r === 'logits' || r === 'latent' || r === 'seen' ? 2 : 1;
    nodes.push(node('ScatterND', [r, 'row_idx', `new_${r}`], [`${r}_out`]));
    inputs.push([r, t, rank], [`new_${r}`, t, rank]);
    outputs.push([`${r}_out`, t, rank]);
  }
  return model('slot_write', nodes, inputs, outputs);
}

/**
 * The read graph's ModelProto for a cache of element type `kv`, K in `layout`, giving past_k / past_v as
 * `to` (cast on the device when it differs: an fp16 step's slot back as an fp32 decode's cache).
 */
export function slotReadGraph(kv: KvType, layout: KLayout = 'bnsh', to: KvType = kv): Uint8Array {
  const nodes: Pb[] = [];
  const [pastK, pastV] = to === kv ? ['past_k', 'past_v'] : ['past_k/kv', 'past_v/kv'];
  nodes.push(
    node('Gather', ['cache_v', 'row'], ['v/row'], [{ name: 'axis', i: 1 }]),
    node('Slice', ['v/row', 'starts', 'ends', 'axes'], [pastV]),
    node('Gather', ['cache_k', 'row'], ['k/row'], [{ name: 'axis', i: 1 }]),
  );
  if (layout === 'ft') {
    // [L, 1, H, dh / 4, M, 4] -> columns [0, ends) -> [L, 1, H, ends, dh / 4, 4] -> [L, 1, H, ends, dh].
    nodes.push(
      node('Constant', [], ['k/axes'], [{ name: 'value_ints', ints: [4] }]),
      node('Slice', ['k/row', 'starts', 'ends', 'k/axes'], ['k/cols']),
      node('Transpose', ['k/cols'], ['k/bnsh'], [{ name: 'perm', ints: [0, 1, 2, 4, 3, 5] }]),
      constant('k/shape5', int64Proto([0, 0, 0, 0, -1], [5])),
      node('Reshape', ['k/bnsh', 'k/shape5'], [pastK]),
    );
  } else {
    nodes.push(node('Slice', ['k/row', 'starts', 'ends', 'axes'], [pastK]));
  }
  nodes.push(
    node('Constant', [], ['starts'], [{ name: 'value_ints', ints: [0] }]),
    node('Constant', [], ['axes'], [{ name: 'value_ints', ints: [3] }]),
  );
  if (to !== kv)
    nodes.push(
      node('Cast', [pastK], ['past_k'], [{ name: 'to', i: ONNX_TYPE[to] }]),
      node('Cast', [pastV], ['past_v'], [{ name: 'to', i: ONNX_TYPE[to] }]),
    );
  for (const r of ['logits', 'latent', 'seen'])
    nodes.push(node('Gather', [`all_${r}`, 'row'], [r], [{ name: 'axis', i: 0 }]));
  const inputs: Io[] = [
    ['cache_k', kv, layout === 'ft' ? 6 : 5],
    ['cache_v', kv, 5],
    ['all_logits', 'float32', 2],
    ['all_latent', 'float32', 2],
    ['all_seen', 'bool', 2],
    ['row', 'int64', [1]],
    ['ends', 'int64', [1]],
  ];
  const outputs: Io[] = [
    ['past_k', to, 5],
    ['past_v', to, 5],
    ['logits', 'float32', 2],
    ['latent', 'float32', 2],
    ['seen', 'bool', 2],
  ];
  return model('slot_read', nodes, inputs, outputs);
}
