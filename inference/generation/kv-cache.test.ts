import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostKvCache, KvCacheError } from './kv-cache.ts';

// 1 layer, 2 heads, headDim 2. Values encode (head, position, dim) as h*100 + t*10 + d
// (keys) and negated (values), so the expected layout can be written down directly.
const step = (t0: number, n: number) => {
  const key = new Float32Array(2 * n * 2);
  for (let h = 0; h < 2; h++)
    for (let t = 0; t < n; t++) for (let d = 0; d < 2; d++) key[(h * n + t) * 2 + d] = h * 100 + (t0 + t) * 10 + d;
  return { key, value: key.map((v) => -v), steps: n };
};

test('append grows the length; past is [1, heads, length, headDim] in order', () => {
  const cache = new HostKvCache({ layers: 1, heads: 2, headDim: 2, capacity: 4 });
  cache.append([step(0, 2)]);
  cache.append([step(2, 1)]);
  assert.equal(cache.length, 3);
  const { key, value, dims } = cache.past(0);
  assert.deepEqual(dims, [1, 2, 3, 2]);
  assert.deepEqual([...key], [0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);
  assert.deepEqual(
    [...value],
    [...key].map((v) => -v),
  );
});

test('overflow, wrong shapes and use after dispose are errors; reset empties', () => {
  const cache = new HostKvCache({ layers: 1, heads: 2, headDim: 2, capacity: 2 });
  assert.throws(() => cache.append([step(0, 3)]), KvCacheError);
  assert.throws(() => cache.append([]), KvCacheError);
  cache.append([step(0, 2)]);
  cache.reset();
  assert.equal(cache.length, 0);
  cache.dispose();
  assert.throws(() => cache.past(0), KvCacheError);
});
