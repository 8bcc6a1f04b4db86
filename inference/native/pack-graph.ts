/**
 * The packing graph of the device-resident batched decode, built in memory: it gathers the rows a new
 * batch keeps from a run's device state and the rows that join from host memory into one left-padded
 * batch, on the device. Only the joining rows and the small index tensors cross to the device.
 *
 * Inputs (T: the KV cache's element type):
 *   dev_k, dev_v   T [L, Bs, H, Ps, D]   the device state's cache
 *   new_k, new_v   T [L, Bn, H, Pn, D]   the joining rows, left-padded to Pn (Bn may be 0)
 *   dev_flat, new_flat, zero_shape  int64 [2]   [Bs*Ps, L*H*D], [Bn*Pn, L*H*D], [1, L*H*D]
 *   idx            int64 [B*P]          for each packed (row, column): its row in the concatenation of
 *                                       the two caches flattened to (row, column) and one zero row
 *   out_shape      int64 [5]            [B, P, L, H, D]
 *   dev_X, new_X, for X in logits (float), latent (float), seen (bool): [Bs, n], [Bn, n]
 *   rows           int64 [B]            each packed row's row in the concatenation of dev_X and new_X
 * Outputs: past_k, past_v [L, B, H, P, D], logits, latent, seen [B, n].
 *
 * The caches go to [B, P, L*H*D] (a Transpose and a Reshape), one Gather picks the packed positions,
 * and the inverse Transpose gives the batched graph's layout back; padding columns gather the zero row,
 * so the result is what batch.ts's packPlaces makes on the host, to the bit.
 */

import { type Io, model, node, type Pb } from './onnx-build.ts';

/** The packing graph's ModelProto for a cache of element type `kv`. */
export function packGraph(kv: 'float32' | 'float16'): Uint8Array {
  const nodes: Pb[] = [node('ConstantOfShape', ['zero_shape'], ['zero'], [{ name: 'value', zeroOf: kv }])];
  for (const x of ['k', 'v']) {
    nodes.push(
      node('Transpose', [`dev_${x}`], [`${x}/dev_t`], [{ name: 'perm', ints: [1, 3, 0, 2, 4] }]),
      node('Reshape', [`${x}/dev_t`, 'dev_flat'], [`${x}/dev_f`]),
      node('Transpose', [`new_${x}`], [`${x}/new_t`], [{ name: 'perm', ints: [1, 3, 0, 2, 4] }]),
      node('Reshape', [`${x}/new_t`, 'new_flat'], [`${x}/new_f`]),
      node('Concat', [`${x}/dev_f`, `${x}/new_f`, 'zero'], [`${x}/all`], [{ name: 'axis', i: 0 }]),
      node('Gather', [`${x}/all`, 'idx'], [`${x}/g`], [{ name: 'axis', i: 0 }]),
      node('Reshape', [`${x}/g`, 'out_shape'], [`${x}/r`]),
      node('Transpose', [`${x}/r`], [`past_${x}`], [{ name: 'perm', ints: [2, 0, 3, 1, 4] }]),
    );
  }
  const rows = [
    ['logits', 'float32'],
    ['latent', 'float32'],
    ['seen', 'bool'],
  ] as const;
  for (const [r] of rows)
    nodes.push(
      node('Concat', [`dev_${r}`, `new_${r}`], [`${r}/all`], [{ name: 'axis', i: 0 }]),
      node('Gather', [`${r}/all`, 'rows'], [r], [{ name: 'axis', i: 0 }]),
    );
  const inputs: Io[] = [
    ['dev_k', kv, 5],
    ['dev_v', kv, 5],
    ['new_k', kv, 5],
    ['new_v', kv, 5],
    ['dev_flat', 'int64', 1],
    ['new_flat', 'int64', 1],
    ['zero_shape', 'int64', 1],
    ['idx', 'int64', 1],
    ['out_shape', 'int64', 1],
    ...rows.flatMap(([r, t]): Io[] => [
      [`dev_${r}`, t, 2],
      [`new_${r}`, t, 2],
    ]),
    ['rows', 'int64', 1],
  ];
  const outputs: Io[] = [['past_k', kv, 5], ['past_v', kv, 5], ...rows.map(([r, t]): Io => [r, t, 2])];
  return model('pack', nodes, inputs, outputs);
}
