/**
 * The small graphs StaticGpt (static.ts) runs beside the fixed-shape decode step, built in memory: one
 * writes a joining sequence into a slot of the step's state, in place; one reads a slot back.
 *
 * Write (each state output bound to its input's tensor, so the write costs the slot only):
 *   cache_k, cache_v  T [L, S, H, M, dh]   the step's KV cache
 *   new_k, new_v      T [L, H, P, dh]      the sequence's cache (a batch-1 cache's data as it is)
 *   pads              int64 [8]            [0, 0, 0, 0, 0, 0, M - P, 0]: the new columns padded to M with zeros
 *   kv_idx            int64 [L, 2]         (layer, slot) for each layer: ScatterND writes row `slot` of every layer
 *   X, new_X          for X in logits (float [S, V]), latent (float [S, D]), seen (bool [S, V]),
 *                     pos, length (int64 [S]), done (bool [S]): the state and the slot's new row ([1, ...])
 *   row_idx           int64 [1, 1]         [[slot]]
 * Outputs X_out for every state X: ScatterND(X, index, update). Columns past P get zeros (finite, as
 * the step wants every column it reads to be).
 *
 * Read: cache_k, cache_v, all_logits, all_latent, all_seen (the state as above), `row` int64 [1] and `ends` int64 [1] (the
 * slot's length) -> past_k, past_v T [L, 1, H, length, dh] and logits, latent, seen [1, ...]: the slot
 * as a batch-1 decode state.
 */
import { type Io, model, node, type Pb } from './onnx-build.ts';

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
  for (const x of ['k', 'v']) {
    nodes.push(
      node('Pad', [`new_${x}`, 'pads'], [`${x}/padded`]),
      node('ScatterND', [`cache_${x}`, 'kv_idx', `${x}/padded`], [`cache_${x}_out`]),
    );
    inputs.push([`cache_${x}`, kv, 5], [`new_${x}`, kv, 4]);
    outputs.push([`cache_${x}_out`, kv, 5]);
  }
  inputs.push(['pads', 'int64', [8]], ['kv_idx', 'int64', 2], ['row_idx', 'int64', [1, 1]]);
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
