/**
 * The slot write and read graphs (slot-graph.ts) on the CPU through the addon, K in both layouts: a
 * sequence written into a slot reads back as it was, the other slots and the columns past it untouched,
 * and in the `ft` layout each value of K lies where onnxruntime's CUDA DecoderMaskedMultiHeadAttention
 * reads it: element (l, s, h, j, m, i) of [L, S, H, dh / 4, M, 4] is new_k[l, h, m, 4 j + i].
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { DeviceSession } from './index.ts';
import { type KLayout, slotReadGraph, slotWriteGraph } from './slot-graph.ts';

const cxx = process.env.CXX ?? 'g++';
const skip = spawnSync(cxx, ['--version']).error ? `no C++ compiler (${cxx}) on PATH` : false;

describe('slot graphs: a sequence into a slot and back, K in either layout', { skip }, () => {
  before(() => {
    execFileSync('bash', [join(import.meta.dirname, 'build.sh')], { encoding: 'utf8', timeout: 180_000 });
  });
  const [L, S, H, M, dh, P, V, D] = [2, 3, 2, 6, 8, 4, 5, 3];
  for (const layout of ['bnsh', 'ft'] as KLayout[])
    it(`${layout}: written, read back, nothing else changed`, async () => {
      const w = DeviceSession.open(slotWriteGraph('float32', layout), { threads: 1 });
      const r = DeviceSession.open(slotReadGraph('float32', layout), { threads: 1 });
      try {
        const kDims = layout === 'ft' ? [L, S, H, dh / 4, M, 4] : [L, S, H, M, dh];
        const fill = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
        const n = L * S * H * M * dh;
        const k0 = fill(n, (i) => -1 - i);
        const v0 = fill(n, (i) => -0.5 - i);
        const st = {
          cache_k: w.alloc('float32', kDims, k0),
          cache_v: w.alloc('float32', [L, S, H, M, dh], v0),
          logits: w.alloc('float32', [S, V]),
          latent: w.alloc('float32', [S, D]),
          seen: w.alloc('bool', [S, V]),
          pos: w.alloc('int64', [S]),
          length: w.alloc('int64', [S]),
          done: w.alloc('bool', [S]),
        };
        const newK = fill(L * H * P * dh, (i) => 1000 + i);
        const newV = fill(L * H * P * dh, (i) => 5000 + i);
        const slot = 1;
        await w.run(
          {
            ...st,
            new_k: { type: 'float32', dims: [L, H, P, dh], data: newK },
            new_v: { type: 'float32', dims: [L, H, P, dh], data: newV },
            row_idx: { type: 'int64', dims: [1, 1], data: BigInt64Array.of(BigInt(slot)) },
            new_logits: { type: 'float32', dims: [1, V], data: new Float32Array(V).fill(2) },
            new_latent: { type: 'float32', dims: [1, D], data: new Float32Array(D).fill(3) },
            new_seen: { type: 'bool', dims: [1, V], data: new Uint8Array(V).fill(1) },
            new_pos: { type: 'int64', dims: [1], data: BigInt64Array.of(1n) },
            new_length: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(P)) },
            new_done: { type: 'bool', dims: [1], data: Uint8Array.of(0) },
          },
          Object.fromEntries(Object.entries(st).map(([k, t]) => [`${k}_out`, t])),
        );
        const k = st.cache_k.download() as Float32Array;
        const v = st.cache_v.download() as Float32Array;
        // Where each value went, by the layout's formula; everything else as it was.
        const kAt = (l: number, s: number, h: number, m: number, e: number) =>
          layout === 'ft'
            ? ((((l * S + s) * H + h) * (dh / 4) + Math.floor(e / 4)) * M + m) * 4 + (e % 4)
            : (((l * S + s) * H + h) * M + m) * dh + e;
        const vAt = (l: number, s: number, h: number, m: number, e: number) => (((l * S + s) * H + h) * M + m) * dh + e;
        const wroteK = new Set<number>();
        const wroteV = new Set<number>();
        for (let l = 0; l < L; l++)
          for (let h = 0; h < H; h++)
            for (let m = 0; m < P; m++)
              for (let e = 0; e < dh; e++) {
                const src = ((l * H + h) * P + m) * dh + e;
                assert.equal(k[kAt(l, slot, h, m, e)], newK[src], `k ${l},${h},${m},${e}`);
                assert.equal(v[vAt(l, slot, h, m, e)], newV[src], `v ${l},${h},${m},${e}`);
                wroteK.add(kAt(l, slot, h, m, e));
                wroteV.add(vAt(l, slot, h, m, e));
              }
        for (let i = 0; i < n; i++) {
          if (!wroteK.has(i)) assert.equal(k[i], k0[i], `k element ${i} untouched`);
          if (!wroteV.has(i)) assert.equal(v[i], v0[i], `v element ${i} untouched`);
        }
        const out = await r.run(
          {
            cache_k: st.cache_k,
            cache_v: st.cache_v,
            all_logits: st.logits,
            all_latent: st.latent,
            all_seen: st.seen,
            row: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(slot)) },
            ends: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(P)) },
          },
          { past_k: 'cpu', past_v: 'cpu', logits: 'cpu' },
        );
        assert.deepEqual(out.past_k.dims, [L, 1, H, P, dh]);
        assert.deepEqual(Array.from(out.past_k.data as Float32Array), Array.from(newK));
        assert.deepEqual(Array.from(out.past_v.data as Float32Array), Array.from(newV));
        assert.deepEqual(Array.from(out.logits.data as Float32Array), new Array(V).fill(2));
        for (const t of Object.values(st)) t.release();
      } finally {
        w.release();
        r.release();
      }
    });
});
