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

/** Protocol Buffers wire format, enough for a ModelProto. */
class Pb {
  private readonly out: number[] = [];

  varint(v: number): this {
    let x = v;
    while (x >= 0x80) {
      this.out.push((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    this.out.push(x);
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.out.push(x);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  /** A packed repeated varint field. */
  ints(field: number, vs: readonly number[]): this {
    const inner = new Pb();
    for (const v of vs) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** ONNX TensorProto.DataType of the element types used here. */
const ELEM = { float32: 1, bool: 9, int64: 7, float16: 10 } as const;
const BYTES = { float32: 4, bool: 1, int64: 8, float16: 2 } as const;
type Elem = keyof typeof ELEM;

type Attr = { name: string; ints?: number[]; i?: number; zeroOf?: Elem };

function attribute(a: Attr): Pb {
  const p = new Pb().str(1, a.name);
  if (a.ints)
    p.ints(8, a.ints).int(20, 7); // INTS
  else if (a.i !== undefined)
    p.int(3, a.i).int(20, 2); // INT
  else if (a.zeroOf) {
    // TensorProto{dims [1], data_type, raw_data zeros}
    const t = new Pb().ints(1, [1]).int(2, ELEM[a.zeroOf]).bytes(9, new Uint8Array(BYTES[a.zeroOf]));
    p.msg(5, t).int(20, 4); // TENSOR
  }
  return p;
}

function node(op: string, inputs: string[], outputs: string[], attrs: Attr[] = []): Pb {
  const p = new Pb();
  for (const i of inputs) p.str(1, i);
  for (const o of outputs) p.str(2, o);
  p.str(3, outputs[0] as string).str(4, op);
  for (const a of attrs) p.msg(5, attribute(a));
  return p;
}

/** A graph input or output of element type `t` whose dimensions are all symbolic (`name`_0, ...). */
function valueInfo(name: string, t: Elem, rank: number): Pb {
  const shape = new Pb();
  for (let i = 0; i < rank; i++) shape.msg(1, new Pb().str(2, `${name}_${i}`));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, ELEM[t]).msg(2, shape)));
}

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
  const graph = new Pb();
  for (const n of nodes) graph.msg(1, n);
  graph.str(2, 'pack');
  const inputs: [string, Elem, number][] = [
    ['dev_k', kv, 5],
    ['dev_v', kv, 5],
    ['new_k', kv, 5],
    ['new_v', kv, 5],
    ['dev_flat', 'int64', 1],
    ['new_flat', 'int64', 1],
    ['zero_shape', 'int64', 1],
    ['idx', 'int64', 1],
    ['out_shape', 'int64', 1],
    ...rows.flatMap(([r, t]): [string, Elem, number][] => [
      [`dev_${r}`, t, 2],
      [`new_${r}`, t, 2],
    ]),
    ['rows', 'int64', 1],
  ];
  for (const [n, t, rank] of inputs) graph.msg(11, valueInfo(n, t, rank));
  const outputs: [string, Elem, number][] = [
    ['past_k', kv, 5],
    ['past_v', kv, 5],
    ...rows.map(([r, t]): [string, Elem, number] => [r, t, 2]),
  ];
  for (const [n, t, rank] of outputs) graph.msg(12, valueInfo(n, t, rank));
  // ModelProto{ir_version 8, graph, opset_import {"" 13}}
  return new Pb().int(1, 8).msg(7, graph).msg(8, new Pb().str(1, '').int(2, 13)).finish();
}
