/**
 * Prompts of several streams in one prefill run (prefill-batcher.ts over the tiny fixture's
 * gpt_prefill_batch_fp32, through the addon on this CPU): prompts that arrive together share a run, and each
 * gets the batch-1 prefill's logits, latent and keys and values (its own columns only); through Xtts with the
 * fixed-shape step, concurrent streams get the codes they get without it; bad input and a closed prefiller
 * are refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { openSession, type Session, tensor } from '../runtime/index.ts';
import { concurrentStepCodes, STEP_TEXTS, tinyCondLatent, tinyPackageWith, tinyPrompts } from '../xtts/tiny-graphs.ts';
import { DeviceSession, NATIVE_ADDON } from './index.ts';
import { DevicePrefiller } from './prefill-batcher.ts';

const root = join(import.meta.dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'tiny');
const batched = join(fixture, 'batch', 'gpt_prefill_batch_fp32.onnx');

describe('DevicePrefiller: several prompts a prefill run', () => {
  let session: DeviceSession;
  let single: Session;
  let prefiller: DevicePrefiller;
  const cond = tinyCondLatent();
  let stop = 0;
  let prompt: (n: number, seed: number) => number[] = () => [];
  before(async () => {
    if (!existsSync(NATIVE_ADDON))
      spawnSync('bash', [join(root, 'inference', 'native', 'build.sh')], { stdio: 'inherit' });
    ({ stop, prompt } = await tinyPrompts());
    session = DeviceSession.open(batched, { threads: 1 });
    single = await openSession(join(fixture, 'package', 'gpt_prefill_fp32.onnx'));
    prefiller = new DevicePrefiller(session, { maxRows: 4, padToken: stop });
  });
  after(async () => {
    prefiller?.close();
    session?.release();
    await single?.release();
  });

  it("prompts that arrive together share a run, each with the batch-1 prefill's numbers in its own columns", async (t) => {
    const prompts = [prompt(6, 1), prompt(2, 2), prompt(9, 3), prompt(1, 4), prompt(9, 5)];
    const before = prefiller.stats.runs;
    const rows = await Promise.all(prompts.map((ids) => prefiller.prefill(cond.data, cond.shape, ids)));
    // The first prompt starts a run at once; the four that came while it ran share the next.
    assert.equal(prefiller.stats.runs - before, 2);
    assert.equal(prefiller.stats.sizes[4], 1, `runs by size ${JSON.stringify(prefiller.stats.sizes)}`);
    let worst = 0;
    for (const [i, ids] of prompts.entries()) {
      const r = rows[i];
      assert.ok(r);
      const want = await single.run({
        cond: tensor('float32', cond.data, cond.shape),
        text_ids: tensor('int64', ids, [1, ids.length]),
      });
      const wantK = want.present_k;
      assert.ok(wantK);
      assert.deepEqual(r.present_k.dims, wantK.dims, `prompt ${i}: its own columns only`);
      assert.deepEqual(r.present_v.dims, want.present_v?.dims);
      worst = Math.max(
        worst,
        maxAbsDiff(r.logits.data as Float32Array, want.logits?.data as Float32Array),
        maxAbsDiff(r.latent.data as Float32Array, want.latent?.data as Float32Array),
        maxAbsDiff(r.present_k.download() as Float32Array, wantK.data as Float32Array),
        maxAbsDiff(r.present_v.download() as Float32Array, want.present_v?.data as Float32Array),
      );
      r.present_k.release();
      r.present_v.release();
    }
    assert.ok(worst <= 1e-5, `max abs difference from the batch-1 prefill ${worst}`);
    t.diagnostic(`max abs difference from the batch-1 prefill ${worst}`);
  });

  it('refuses a conditioning of the wrong shape, no text, and a graph that is not the batched prefill', async () => {
    await assert.rejects(prefiller.prefill(cond.data, [2, 3], prompt(2, 1)), /not \[1, latents, width\]/);
    await assert.rejects(prefiller.prefill(cond.data, cond.shape, []), /no text ids/);
    const plain = DeviceSession.open(join(fixture, 'package', 'gpt_prefill_fp32.onnx'), { threads: 1 });
    try {
      assert.throws(() => new DevicePrefiller(plain, { maxRows: 2, padToken: 0 }), /not a batched prefill graph/);
    } finally {
      plain.release();
    }
  });

  it('a closed prefiller refuses new prompts', async () => {
    const p = new DevicePrefiller(session, { maxRows: 2, padToken: stop });
    p.close();
    await assert.rejects(p.prefill(cond.data, cond.shape, prompt(2, 1)), /closed/);
  });
});

describe('Xtts with batched prefills and the fixed-shape step', () => {
  let withStep: string;
  let remove = () => {};
  before(async () => {
    ({ dir: withStep, remove } = await tinyPackageWith(['gpt_step_static_dmmha_fp32', 'gpt_prefill_batch_fp32']));
  });
  after(() => remove());

  it('concurrent streams get the codes they get with one prefill a prompt, their prompts in shared runs', async (t) => {
    const texts = STEP_TEXTS;
    const want = await concurrentStepCodes(withStep, texts, {}, undefined, (x) =>
      assert.equal(x.gpt.devicePrefiller, null, 'no prefiller unless asked for'),
    );
    const got = await concurrentStepCodes(withStep, texts, { prefillBatch: { maxRows: 4 } }, undefined, (x) => {
      assert.ok(x.gpt.devicePrefiller, 'the batched prefill is the prefill');
      assert.equal(x.promptPath, 'in shared runs (4 prompts a run at most)');
      assert.equal(x.pkg.sessions.prefill.path.endsWith('gpt_prefill_batch_fp32.onnx'), true);
      const s = x.gpt.devicePrefiller.stats;
      assert.ok(s.prompts >= texts.length && s.runs < s.prompts, `prefill runs by size ${JSON.stringify(s.sizes)}`);
      t.diagnostic(`prefill runs by size ${JSON.stringify(s.sizes)}`);
    });
    assert.deepEqual(got, want);
  });
});
