/**
 * The GPT's key/value cache as an object with a lifecycle. The decode loop appends the
 * new keys/values of each step and feeds `past(layer)` back; `dispose` frees it. The
 * interface lets a device-resident cache (several steps inside one graph, or IO binding)
 * replace this host-memory one without the loop changing.
 */

export type KvShape = { layers: number; heads: number; headDim: number; capacity: number };

/** One step's new keys and values for one layer, laid out [heads, steps, headDim]. */
export type KvStep = { key: Float32Array; value: Float32Array; steps: number };

export type PastKv = { key: Float32Array; value: Float32Array; dims: [1, number, number, number] };

export interface KvCache {
  readonly length: number;
  readonly shape: KvShape;
  /** Appends `steps[layer]` for every layer; all layers advance together. */
  append(steps: readonly KvStep[]): void;
  /** Contiguous [1, heads, length, headDim] keys and values of one layer. */
  past(layer: number): PastKv;
  reset(): void;
  dispose(): void;
}

export class KvCacheError extends Error {
  override name = 'KvCacheError';
}

/** Preallocated host cache: per layer [heads, capacity, headDim] for keys and for values. */
export class HostKvCache implements KvCache {
  readonly shape: KvShape;
  private keys: Float32Array[];
  private values: Float32Array[];
  private len = 0;
  private disposed = false;

  constructor(shape: KvShape) {
    this.shape = shape;
    const size = shape.heads * shape.capacity * shape.headDim;
    this.keys = Array.from({ length: shape.layers }, () => new Float32Array(size));
    this.values = Array.from({ length: shape.layers }, () => new Float32Array(size));
  }

  get length(): number {
    return this.len;
  }

  append(steps: readonly KvStep[]): void {
    this.checkAlive();
    const { layers, heads, headDim, capacity } = this.shape;
    if (steps.length !== layers) throw new KvCacheError(`expected ${layers} layers, got ${steps.length}`);
    const n = steps[0]?.steps ?? 0;
    if (this.len + n > capacity) throw new KvCacheError(`cache full: ${this.len} + ${n} > ${capacity}`);
    steps.forEach((step, layer) => {
      if (step.steps !== n || step.key.length !== heads * n * headDim || step.value.length !== step.key.length) {
        throw new KvCacheError(`layer ${layer}: expected [${heads}, ${n}, ${headDim}]`);
      }
      for (let h = 0; h < heads; h++) {
        const dst = (h * capacity + this.len) * headDim;
        const src = h * n * headDim;
        (this.keys[layer] as Float32Array).set(step.key.subarray(src, src + n * headDim), dst);
        (this.values[layer] as Float32Array).set(step.value.subarray(src, src + n * headDim), dst);
      }
    });
    this.len += n;
  }

  past(layer: number): PastKv {
    this.checkAlive();
    const { heads, headDim, capacity } = this.shape;
    const keys = this.keys[layer];
    const values = this.values[layer];
    if (!keys || !values) throw new KvCacheError(`no layer ${layer}`);
    const key = new Float32Array(heads * this.len * headDim);
    const value = new Float32Array(key.length);
    for (let h = 0; h < heads; h++) {
      const src = h * capacity * headDim;
      key.set(keys.subarray(src, src + this.len * headDim), h * this.len * headDim);
      value.set(values.subarray(src, src + this.len * headDim), h * this.len * headDim);
    }
    return { key, value, dims: [1, heads, this.len, headDim] };
  }

  reset(): void {
    this.checkAlive();
    this.len = 0;
  }

  dispose(): void {
    this.keys = [];
    this.values = [];
    this.len = 0;
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new KvCacheError('cache used after dispose');
  }
}
