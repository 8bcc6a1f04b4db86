/**
 * A prompt's pass through the fused-operator prefill (`prefillGraph: 'fused'`, INFERENCE_PREFILL_GRAPH; the
 * tiny fixture's batch/gpt_prefill_fused_fp32.onnx, which the trainer's test_prefill_fused.py checks against
 * the traced prefill): the loader opens it where the package has it, else the traced graph; concurrent
 * streams through the fixed-shape step get the codes the traced prefill gives them, as does a render through
 * onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { NATIVE_ADDON } from '../native/index.ts';
import { tensor } from '../runtime/index.ts';
import { concurrentStepCodes, STEP_TEXTS, tinyCondLatent, tinyPackageWith, tinyPrompts } from './tiny-graphs.ts';
import { Xtts } from './xtts.ts';

const root = join(import.meta.dirname, '..', '..');

describe('the fused-operator prefill (INFERENCE_PREFILL_GRAPH=fused)', () => {
  let withFused: string;
  let withoutFused: string;
  const removers: (() => void)[] = [];
  before(async () => {
    if (!existsSync(NATIVE_ADDON))
      spawnSync('bash', [join(root, 'inference', 'native', 'build.sh')], { stdio: 'inherit' });
    let remove: () => void;
    ({ dir: withFused, remove } = await tinyPackageWith(['gpt_step_static_dmmha_fp32', 'gpt_prefill_fused_fp32']));
    removers.push(remove);
    ({ dir: withoutFused, remove } = await tinyPackageWith(['gpt_step_static_dmmha_fp32']));
    removers.push(remove);
  });
  after(() => {
    for (const r of removers) r();
  });

  it('concurrent streams through the fixed-shape step get the codes the traced prefill gives', async () => {
    const want = await concurrentStepCodes(withFused, STEP_TEXTS, {}, undefined, (x) => {
      assert.equal(x.promptPath, 'one pass each', 'the traced prefill unless asked for');
      assert.ok(x.pkg.sessions.prefill.path.endsWith('gpt_prefill_fp32.onnx'));
    });
    const got = await concurrentStepCodes(withFused, STEP_TEXTS, { prefillGraph: 'fused' }, undefined, (x) => {
      assert.equal(x.promptPath, 'one pass each, through the fused-operator graph');
      assert.ok(x.pkg.sessions.prefill.path.endsWith('gpt_prefill_fused_fp32.onnx'));
    });
    assert.deepEqual(got, want);
    assert.ok(want.flat(2).length > 0, 'codes were made');
  });

  it('a package without the fused graph runs the traced one', async () => {
    await concurrentStepCodes(withoutFused, STEP_TEXTS.slice(0, 1), { prefillGraph: 'fused' }, undefined, (x) => {
      assert.equal(x.promptPath, 'one pass each');
      assert.ok(x.pkg.sessions.prefill.path.endsWith('gpt_prefill_fp32.onnx'));
    });
  });

  it("through onnxruntime-node: the prefill's outputs within 1e-5 of the traced graph's", async () => {
    const { prompt } = await tinyPrompts();
    const cond = tinyCondLatent();
    const [trace, fused] = await Promise.all([
      Xtts.load(withFused, { warmUp: false }),
      Xtts.load(withFused, { warmUp: false, prefillGraph: 'fused' }),
    ]);
    try {
      assert.ok(fused.pkg.sessions.prefill.path.endsWith('gpt_prefill_fused_fp32.onnx'));
      for (const n of [1, 12, 40]) {
        const ids = prompt(n, n);
        const feeds = {
          cond: tensor('float32', cond.data, cond.shape),
          text_ids: tensor('int64', ids, [1, ids.length]),
        };
        const [a, b] = await Promise.all([
          trace.pkg.sessions.prefill.run(feeds),
          fused.pkg.sessions.prefill.run(feeds),
        ]);
        for (const name of ['logits', 'latent', 'present_k', 'present_v']) {
          const x = a[name];
          const y = b[name];
          assert.ok(x && y, name);
          assert.deepEqual(y.dims, x.dims, `${n} tokens: ${name}`);
          const d = maxAbsDiff(x.data as Float32Array, y.data as Float32Array);
          assert.ok(d <= 1e-5, `${n} tokens: ${name} ${d}`);
        }
      }
    } finally {
      await Promise.all([trace.release(), fused.release()]);
    }
  });
});
