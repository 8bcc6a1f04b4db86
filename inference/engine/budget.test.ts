import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createEngine } from './engine.ts';

const fixture = new URL('../../test/fixtures/tiny/', import.meta.url).pathname;

describe('packages loaded on demand, least recently used released first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xtts-budget-'));
  const [a, b] = ['a', 'b'].map((name) => {
    cpSync(join(fixture, 'package'), join(dir, name), { recursive: true });
    return join(dir, name);
  }) as [string, string];
  after(() => rmSync(dir, { recursive: true, force: true }));
  const sizeOfGraphs = () => {
    const m = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8')) as {
      files: Record<string, { bytes: number }>;
    };
    const used = ['cond_encoder', 'speaker_encoder', 'hifigan', 'gpt_prefill_fp32', 'gpt_decode_fp32'];
    return used.reduce((n, g) => n + (m.files[`${g}.onnx`]?.bytes ?? 0), 0);
  };

  it('keeps packages within the memory budget', async () => {
    // Room for one package's graphs, not two.
    const engine = createEngine({ workers: 1, packageBudgetBytes: Math.ceil(sizeOfGraphs() * 1.5) });
    try {
      await engine.preload(a);
      assert.deepEqual(engine.stats().packages, [a]);
      await engine.preload(b);
      assert.deepEqual(engine.stats().packages, [b], 'the older package was released for the newer one');
      await engine.preload(a);
      assert.deepEqual(engine.stats().packages, [a], 'and loads again when asked for');
    } finally {
      await engine.close();
    }
  });

  it('keeps both when the budget allows', async () => {
    const engine = createEngine({ workers: 1, packageBudgetBytes: sizeOfGraphs() * 3 });
    try {
      await engine.preload(a);
      await engine.preload(b);
      assert.deepEqual([...engine.stats().packages].sort(), [a, b]);
    } finally {
      await engine.close();
    }
  });
});
