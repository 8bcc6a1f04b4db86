/**
 * ONNX ModelProto bytes built in memory, for the small graphs the native driver runs beside the
 * exported ones (pack-graph.ts, slot-graph.ts): nodes, typed graph inputs and outputs, constants. Only
 * the Protocol Buffers fields those graphs use are written.
 */

/** Protocol Buffers wire format, enough for a ModelProto. */
export class Pb {
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

  /** A float field (wire type 5: 4 bytes, little-endian). */
  float(field: number, v: number): this {
    this.tag(field, 5);
    for (const b of new Uint8Array(Float32Array.of(v).buffer)) this.out.push(b);
    return this;
  }

  /** A packed repeated varint field (non-negative values). */
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
export const ELEM = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 } as const;
export type Elem = keyof typeof ELEM;
const BYTES: Record<Elem, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
};

/** A TensorProto of `t` with `dims` holding `raw` (little-endian bytes), or zeros. */
export function tensorProto(t: Elem, dims: readonly number[], raw?: Uint8Array, name?: string): Pb {
  const n = dims.reduce((a, b) => a * b, 1);
  const p = new Pb().ints(1, dims).int(2, ELEM[t]);
  if (name) p.str(8, name);
  return p.bytes(9, raw ?? new Uint8Array(n * BYTES[t]));
}

/** An int64 TensorProto of the values (as raw little-endian bytes). */
export function int64Proto(values: readonly number[], dims: readonly number[] = [values.length], name?: string): Pb {
  return tensorProto('int64', dims, new Uint8Array(BigInt64Array.from(values, BigInt).buffer), name);
}

export type Attr = { name: string; ints?: number[]; i?: number; f?: number; s?: string; t?: Pb; zeroOf?: Elem };

function attribute(a: Attr): Pb {
  const p = new Pb().str(1, a.name);
  if (a.ints)
    p.ints(8, a.ints).int(20, 7); // INTS
  else if (a.i !== undefined)
    p.int(3, a.i).int(20, 2); // INT
  else if (a.f !== undefined)
    p.float(2, a.f).int(20, 1); // FLOAT
  else if (a.s !== undefined)
    p.str(4, a.s).int(20, 3); // STRING
  else if (a.t)
    p.msg(5, a.t).int(20, 4); // TENSOR
  else if (a.zeroOf) p.msg(5, tensorProto(a.zeroOf, [1])).int(20, 4);
  return p;
}

/** A NodeProto (named after its first output), of ONNX's own operators unless `domain` names another set. */
export function node(op: string, inputs: string[], outputs: string[], attrs: Attr[] = [], domain = ''): Pb {
  const p = new Pb();
  if (domain) p.str(7, domain);
  for (const i of inputs) p.str(1, i);
  for (const o of outputs) p.str(2, o);
  p.str(3, outputs[0] as string).str(4, op);
  for (const a of attrs) p.msg(5, attribute(a));
  return p;
}

/** A Constant node giving `out` = the tensor. */
export function constant(out: string, t: Pb): Pb {
  return node('Constant', [], [out], [{ name: 'value', t }]);
}

/**
 * A graph input or output of element type `t`: `shape` gives each dimension a size or a symbolic
 * name; a number (the rank) makes every dimension symbolic (`name`_0, ...).
 */
export function valueInfo(name: string, t: Elem, shape: number | readonly (number | string)[]): Pb {
  const dims = typeof shape === 'number' ? Array.from({ length: shape }, (_, i) => `${name}_${i}`) : shape;
  const sh = new Pb();
  for (const d of dims) sh.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, ELEM[t]).msg(2, sh)));
}

export type Io = [name: string, type: Elem, shape: number | readonly (number | string)[]];

/**
 * A ModelProto{ir_version 8, graph, opset_import {"" opset}, and version 1 of each of `domains`} of the
 * nodes, inputs and outputs.
 */
export function model(
  name: string,
  nodes: readonly Pb[],
  inputs: readonly Io[],
  outputs: readonly Io[],
  opset = 13,
  domains: readonly string[] = [],
) {
  const graph = new Pb();
  for (const n of nodes) graph.msg(1, n);
  graph.str(2, name);
  for (const [n, t, s] of inputs) graph.msg(11, valueInfo(n, t, s));
  for (const [n, t, s] of outputs) graph.msg(12, valueInfo(n, t, s));
  const m = new Pb().int(1, 8).msg(7, graph).msg(8, new Pb().str(1, '').int(2, opset));
  for (const d of domains) m.msg(8, new Pb().str(1, d).int(2, 1));
  return m.finish();
}
