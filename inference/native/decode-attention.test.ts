/**
 * The addon's ai.xtts DecodeAttention operators (decode_attention.cc) on this host's CPU, one node in a
 * graph built in memory, against the attention computed here in plain JS: each active row's new K/V
 * written at its own length (rounded to fp16 for the half cache), softmax(q . K / sqrt(dh)) V over its
 * columns [0, length] and nothing else; inactive rows untouched. The whole step on these operators is
 * checked against the exported plain step in static.test.ts, and on CUDA by bench/native.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { DeviceSession } from './index.ts';
import { model, node } from './onnx-build.ts';

const [S, H, DH, M] = [3, 2, 8, 10];
const D = H * DH;

/** IEEE binary16 bits -> number (the reference's own decoder). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** A number in binary16's normal range -> a binary16's bits near it (the test's input values only). */
function numberToHalf(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign;
  const e = Math.floor(Math.log2(a));
  const m = Math.min(1023, Math.round((a / 2 ** e - 1) * 1024));
  return sign | ((e + 15) << 10) | m;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function graph(half: boolean, heads = H): Uint8Array {
  const t = half ? 'float16' : 'float32';
  return model(
    'decode_attention',
    [
      node(
        half ? 'DecodeAttentionHalfCache' : 'DecodeAttention',
        ['q', 'k', 'v', 'cache_k', 'cache_v', 'length', 'active'],
        ['out', 'cache_k_out', 'cache_v_out'],
        [
          { name: 'num_heads', i: heads },
          { name: 'scale', f: 1 / Math.sqrt(DH) },
        ],
        'ai.xtts',
      ),
    ],
    [
      ['q', 'float32', [S, D]],
      ['k', 'float32', [S, D]],
      ['v', 'float32', [S, D]],
      ['cache_k', t, [S, H, M, DH]],
      ['cache_v', t, [S, H, M, DH]],
      ['length', 'int64', [S]],
      ['active', 'bool', [S]],
    ],
    [
      ['out', 'float32', [S, D]],
      ['cache_k_out', t, [S, H, M, DH]],
      ['cache_v_out', t, [S, H, M, DH]],
    ],
    17,
    ['ai.xtts'],
  );
}

type Case = { lengths: number[]; active: boolean[] };

async function run(half: boolean, c: Case, heads = H) {
  const r = rng(7);
  const q = Float32Array.from({ length: S * D }, r);
  const k = Float32Array.from({ length: S * D }, r);
  const v = Float32Array.from({ length: S * D }, r);
  const n = S * H * M * DH;
  const ck32 = Float32Array.from({ length: n }, r);
  const cv32 = Float32Array.from({ length: n }, r);
  const ck = half ? Uint16Array.from(ck32, numberToHalf) : ck32;
  const cv = half ? Uint16Array.from(cv32, numberToHalf) : cv32;
  const t = half ? 'float16' : 'float32';
  const session = DeviceSession.open(graph(half, heads), { threads: 1 });
  try {
    const out = await session.run(
      {
        q: { type: 'float32', dims: [S, D], data: q },
        k: { type: 'float32', dims: [S, D], data: k },
        v: { type: 'float32', dims: [S, D], data: v },
        cache_k: { type: t, dims: [S, H, M, DH], data: ck },
        cache_v: { type: t, dims: [S, H, M, DH], data: cv },
        length: { type: 'int64', dims: [S], data: BigInt64Array.from(c.lengths, BigInt) },
        active: { type: 'bool', dims: [S], data: Uint8Array.from(c.active, Number) },
      },
      { out: 'cpu', cache_k_out: 'cpu', cache_v_out: 'cpu' },
    );
    return { q, k, v, ck, cv, out };
  } finally {
    session.release();
  }
}

describe('ai.xtts DecodeAttention on the CPU', () => {
  before(() => {
    execFileSync('bash', [join(import.meta.dirname, 'build.sh')], { encoding: 'utf8', timeout: 180_000 });
  });

  for (const half of [false, true])
    it(`${half ? 'DecodeAttentionHalfCache (fp16 cache)' : 'DecodeAttention (fp32 cache)'}: writes each active row's new column and attends over its own columns`, async () => {
      const c: Case = { lengths: [4, 0, 9], active: [true, true, false] };
      const { q, k, v, ck, cv, out } = await run(half, c);
      const value = (a: Float32Array | Uint16Array, i: number) =>
        half ? halfToNumber(a[i] as number) : (a[i] as number);
      const got = out.out?.data as Float32Array;
      const gotK = out.cache_k_out?.data as Float32Array | Uint16Array;
      const gotV = out.cache_v_out?.data as Float32Array | Uint16Array;
      let worst = 0;
      for (let s = 0; s < S; s++) {
        const len = c.lengths[s] as number;
        for (let h = 0; h < H; h++) {
          const base = (s * H + h) * M * DH;
          for (let j = 0; j < M; j++)
            for (let i = 0; i < DH; i++) {
              const at = base + j * DH + i;
              if (c.active[s] && j === len) {
                // The new column: k and v as the cache's type holds them.
                const kk = k[s * D + h * DH + i] as number;
                const vv = v[s * D + h * DH + i] as number;
                const tol = half ? 2 ** -11 * Math.max(Math.abs(kk), Math.abs(vv)) + 1e-7 : 0;
                assert.ok(Math.abs(value(gotK, at) - kk) <= tol, `row ${s} head ${h}: new K at column ${len}`);
                assert.ok(Math.abs(value(gotV, at) - vv) <= tol, `row ${s} head ${h}: new V at column ${len}`);
              } else {
                assert.equal(gotK[at], ck[at], `row ${s} head ${h} column ${j}: K untouched`);
                assert.equal(gotV[at], cv[at], `row ${s} head ${h} column ${j}: V untouched`);
              }
            }
          const o = got.subarray(s * D + h * DH, s * D + (h + 1) * DH);
          if (!c.active[s]) {
            assert.ok(
              o.every((x) => x === 0),
              `inactive row ${s}: zeros`,
            );
            continue;
          }
          // Reference: scores over columns [0, len] of the written cache, softmax, weighted sum.
          const scores: number[] = [];
          for (let j = 0; j <= len; j++) {
            let d = 0;
            for (let i = 0; i < DH; i++) d += (q[s * D + h * DH + i] as number) * value(gotK, base + j * DH + i);
            scores.push(d / Math.sqrt(DH));
          }
          const top = Math.max(...scores);
          const e = scores.map((x) => Math.exp(x - top));
          const sum = e.reduce((a, b) => a + b, 0);
          for (let i = 0; i < DH; i++) {
            let want = 0;
            for (let j = 0; j <= len; j++) want += ((e[j] as number) / sum) * value(gotV, base + j * DH + i);
            worst = Math.max(worst, Math.abs((o[i] as number) - want));
          }
        }
      }
      assert.ok(worst <= 1e-6, `attention output max abs error ${worst}`);
    });

  it('refuses an active row with no column left, and heads that do not fit the inputs', async () => {
    await assert.rejects(run(false, { lengths: [M, 0, 0], active: [true, false, false] }), (e: Error) =>
      /row 0 is active with length 10, outside \[0, 10\)/.test(e.message),
    );
    await assert.rejects(run(false, { lengths: [0, 0, 0], active: [true, true, true] }, 4), (e: Error) =>
      /does not fit cache_k \[3, 2, 10, 8\] with num_heads 4/.test(e.message),
    );
  });
});
