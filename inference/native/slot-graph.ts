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

/** The write graph's ModelProto for a cache of element type `kv`. */
export function slotWriteGraph(kv: 'float32' | 'float16'): Uint8Array {
  const nodes: Pb[] = [];
  const inputs: Io[] = [];
  const outputs: Io[] = [];
  // kv_idx [L, H, P, 4]: (layer, slot, head, column) of each of new_k's rows, from its shape and the slot.
  const c = (name: string, v: number[]) => constant(name, int64Proto(v, [v.length]));
  const part = (i: number) => node('Slice', ['i/shape', `i/at${i}`, `i/at${i + 1}`], [`i/dim${i}`]);
  const axis = (i: number, shape: number[]) => [
    node('Squeeze', [`i/dim${i}`, 'i/ax0'], [`i/n${i}`]),
    node('Range', ['i/zero', `i/n${i}`, 'i/one'], [`i/r${i}`]),
    node('Reshape', [`i/r${i}`, `i/shape_r${i}`], [`i/rr${i}`]),
    c(`i/shape_r${i}`, shape),
    node('Expand', [`i/rr${i}`, 'i/grid'], [`i/g${i}`]),
  ];
  nodes.push(
    node('Shape', ['new_k'], ['i/shape']),
    ...[0, 1, 2, 3].map((i) => c(`i/at${i}`, [i])),
    part(0),
    part(1),
    part(2),
    c('i/ax0', [0]),
    constant('i/zero', int64Proto([0], [])),
    constant('i/one', int64Proto([1], [])),
    node('Concat', ['i/dim0', 'i/dim1', 'i/dim2', 'i/ax0_1'], ['i/grid'], [{ name: 'axis', i: 0 }]),
    c('i/ax0_1', [1]),
    ...axis(0, [-1, 1, 1, 1]),
    ...axis(1, [1, -1, 1, 1]),
    ...axis(2, [1, 1, -1, 1]),
    node('Reshape', ['row_idx', 'i/one4'], ['i/slot4']),
    c('i/one4', [1, 1, 1, 1]),
    node('Expand', ['i/slot4', 'i/grid'], ['i/gs']),
    node('Concat', ['i/g0', 'i/gs', 'i/g1', 'i/g2'], ['kv_idx'], [{ name: 'axis', i: 3 }]),
  );
  for (const x of ['k', 'v']) {
    nodes.push(node('ScatterND', [`cache_${x}`, 'kv_idx', `new_${x}`], [`cache_${x}_out`]));
    inputs.push([`cache_${x}`, kv, 5], [`new_${x}`, kv, 4]);
    outputs.push([`cache_${x}_out`, kv, 5]);
  }
  inputs.push(['row_idx', 'int64', [1, 1]]);
  for (const [r, t] of ROWS) {
    const rank = r === 'logits' || r === 'latent' || r === 'seen' ? 2 : 1;
    nodes.push(node('ScatterND', [r, 'row_idx', `new_${r}`], [`${r}_out`]));
    inputs.push([r, t, rank], [`new_${r}`, t, rank]);
    outputs.push([`${r}_out`, t, rank]);
  }
  return model('slot_write', nodes, inputs, outputs);
}

/** The read graph's ModelProto for a cache of element type `kv`. */
export function slotReadGraph(kv: 'float32' | 'float16'): Uint8Array {
  const nodes: Pb[] = [];
  for (const x of ['k', 'v'])
    nodes.push(
      node('Gather', [`cache_${x}`, 'row'], [`${x}/row`], [{ name: 'axis', i: 1 }]),
      node('Slice', [`${x}/row`, 'starts', 'ends', 'axes'], [`past_${x}`]),
    );
  nodes.push(
    node('Constant', [], ['starts'], [{ name: 'value_ints', ints: [0] }]),
    node('Constant', [], ['axes'], [{ name: 'value_ints', ints: [3] }]),
  );
  for (const r of ['logits', 'latent', 'seen'])
    nodes.push(node('Gather', [`all_${r}`, 'row'], [r], [{ name: 'axis', i: 0 }]));
  const inputs: Io[] = [
    ['cache_k', kv, 5],
    ['cache_v', kv, 5],
    ['all_logits', 'float32', 2],
    ['all_latent', 'float32', 2],
    ['all_seen', 'bool', 2],
    ['row', 'int64', [1]],
    ['ends', 'int64', [1]],
  ];
  const outputs: Io[] = [
    ['past_k', kv, 5],
    ['past_v', kv, 5],
    ['logits', 'float32', 2],
    ['latent', 'float32', 2],
    ['seen', 'bool', 2],
  ];
  return model('slot_read', nodes, inputs, outputs);
}
