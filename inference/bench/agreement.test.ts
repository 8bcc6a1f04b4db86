/**
 * The int8 CPU variant of the GPT graphs at the tiny size: a package that carries it loads it by
 * default on CPU, keeps fp32 on request, refuses int8 when it lacks it, and its decoding agrees
 * with fp32 in top-1 (the graphs are the committed test/fixtures/tiny/int8 ones, made from the
 * fixture's fp32 graphs by trainer/xtts/quantize.py; npm run fixture:tiny remakes them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../engine/types.ts';
import { loadPackage } from '../xtts/package.ts';
import { AGREEMENT_SENTENCES, compareVariants } from './agreement.ts';

const tiny = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');

/** The fixture package plus its int8 graphs, recorded in the manifest as the exporter records them. */
function packageWithInt8(dir: string): void {
  cpSync(join(tiny, 'package'), dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
    graphs: Record<string, Record<string, unknown>>;
    files: Record<string, { sha256: string; bytes: number }>;
  };
  for (const g of ['gpt_prefill', 'gpt_decode']) {
    const file = `${g}_int8.onnx`;
    copyFileSync(join(tiny, 'int8', file), join(dir, file));
    const { checks: _c, ...ref } = m.graphs[`${g}_fp32`] ?? {};
    m.graphs[`${g}_int8`] = { ...ref, file, precision: 'int8' };
    m.files[file] = {
      sha256: createHash('sha256')
        .update(readFileSync(join(dir, file)))
        .digest('hex'),
      bytes: statSync(join(dir, file)).size,
    };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
}

describe('int8 GPT graphs (tiny)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'xtts-int8-'));
    packageWithInt8(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are the CPU default when present; fp32 stays available; asking a package without them fails clearly', async () => {
    const auto = await loadPackage(dir);
    assert.equal(auto.precision, 'int8');
    await auto.release();
    const fp32 = await loadPackage(dir, { precision: 'fp32' });
    assert.equal(fp32.precision, 'fp32');
    await fp32.release();
    // The graphs it opened are the int8 files (smaller than fp32's even at the tiny size).
    assert.ok(auto.bytes < fp32.bytes, `${auto.bytes} < ${fp32.bytes}`);
    const plain = await loadPackage(join(tiny, 'package'));
    assert.equal(plain.precision, 'fp32');
    await plain.release();
    await assert.rejects(loadPackage(join(tiny, 'package'), { precision: 'int8' }), (e) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'MODEL_NOT_FOUND');
      assert.match(e.message, /no gpt_prefill_int8 graph/);
      return true;
    });
  });

  it('decode with the same top-1 code as fp32 on nearly every teacher-forced step', async () => {
    const a = await compareVariants(dir, dir, {
      reference: 'fp32',
      variant: 'int8',
      steps: 12,
      freeSteps: 12,
      sentences: AGREEMENT_SENTENCES.slice(0, 3),
    });
    assert.equal(a.steps, 36);
    // Measured at 98.8% over 320 steps (npm run bench:inference -- --only tiny).
    assert.ok(a.top1Agreement >= 0.9, a.summary);
    assert.ok(a.logitRmsRelErr > 0 && a.logitRmsRelErr < 0.05, a.summary);
    assert.ok(a.speakerCosine > 0.99, a.summary);
  });
});
