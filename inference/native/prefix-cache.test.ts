/**
 * Each voice's conditioning positions kept (prefix-cache.ts over the tiny fixture's gpt_prefill_prefix_fp32,
 * through the addon on this CPU): a prompt after its voice's kept prefix gives the one-pass prefill's logits,
 * latent, keys and values; a voice's prefix is made once, by one run however many of its prompts come at
 * once; at most `voices` are kept, least recently used dropped first, never one a run reads; bad input and a
 * closed cache are refused; through Xtts with the fixed-shape step, concurrent streams get the codes they get
 * without it.
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
import { isPrefixPrefill, PrefixCache } from './prefix-cache.ts';

const root = join(import.meta.dirname, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'tiny');
const prefixGraph = join(fixture, 'batch', 'gpt_prefill_prefix_fp32.onnx');

describe('PrefixCache: each voice’s conditioning positions kept', () => {
  let session: DeviceSession;
  let single: Session;
  const cond = tinyCondLatent();
  /** Another voice: the fixture's conditioning, scaled. */
  const other = { data: cond.data.map((x) => x * 0.5), shape: cond.shape };
  let prompt: (n: number, seed: number) => number[] = () => [];
  before(async () => {
    if (!existsSync(NATIVE_ADDON))
      spawnSync('bash', [join(root, 'inference', 'native', 'build.sh')], { stdio: 'inherit' });
    ({ prompt } = await tinyPrompts());
    session = DeviceSession.open(prefixGraph, { threads: 1 });
    single = await openSession(join(fixture, 'package', 'gpt_prefill_fp32.onnx'));
  });
  after(async () => {
    session?.release();
    await single?.release();
  });

  /** The one-pass prefill's outputs for this voice and prompt. */
  const onePass = async (voice: typeof cond, ids: number[]) => {
    const out = await single.run({
      cond: tensor('float32', voice.data, voice.shape),
      text_ids: tensor('int64', ids, [1, ids.length]),
    });
    return {
      logits: out.logits?.data as Float32Array,
      latent: out.latent?.data as Float32Array,
      k: out.present_k?.data as Float32Array,
      v: out.present_v?.data as Float32Array,
      dims: out.present_k?.dims as readonly number[],
    };
  };

  it('is the prefix graph, and a prompt after its voice’s kept prefix is the one-pass prefill', async (t) => {
    assert.equal(isPrefixPrefill(session), true);
    const cache = new PrefixCache(session, { voices: 4 });
    try {
      let worst = 0;
      for (const [i, n] of [1, 6, 17].entries()) {
        const ids = prompt(n, i);
        const got = await cache.prefill(cond.data, cond.shape, ids);
        const want = await onePass(cond, ids);
        assert.deepEqual(got.present_k.dims, want.dims);
        for (const [name, a, b] of [
          ['logits', got.logits.data as Float32Array, want.logits],
          ['latent', got.latent.data as Float32Array, want.latent],
          ['keys', got.present_k.download() as Float32Array, want.k],
          ['values', got.present_v.download() as Float32Array, want.v],
        ] as const) {
          const d = maxAbsDiff(a, b);
          worst = Math.max(worst, d);
          assert.ok(d <= 1e-5, `${n} tokens: ${name} ${d}`);
        }
        got.present_k.release();
        got.present_v.release();
      }
      assert.deepEqual(cache.stats, { prompts: 3, computed: 1, dropped: 0, kept: 1 });
      t.diagnostic(`max abs difference from the one-pass prefill ${worst}`);
    } finally {
      cache.close();
    }
  });

  it('makes a new voice’s prefix once for prompts that come together', async () => {
    const cache = new PrefixCache(session, { voices: 4 });
    try {
      const rows = await Promise.all([3, 5, 8, 2].map((n, i) => cache.prefill(other.data, other.shape, prompt(n, i))));
      assert.deepEqual(cache.stats, { prompts: 4, computed: 1, dropped: 0, kept: 1 });
      const want = await onePass(other, prompt(8, 2));
      assert.ok(maxAbsDiff(rows[2]?.logits.data as Float32Array, want.logits) <= 1e-5);
      for (const r of rows) {
        r.present_k.release();
        r.present_v.release();
      }
    } finally {
      cache.close();
    }
  });

  it('keeps `voices` prefixes at most, least recently used dropped first', async () => {
    const cache = new PrefixCache(session, { voices: 1 });
    try {
      const run = async (voice: typeof cond, seed: number) => {
        const r = await cache.prefill(voice.data, voice.shape, prompt(4, seed));
        const want = await onePass(voice, prompt(4, seed));
        assert.ok(maxAbsDiff(r.logits.data as Float32Array, want.logits) <= 1e-5, 'the right voice’s prefix');
        r.present_k.release();
        r.present_v.release();
      };
      await run(cond, 1);
      await run(other, 2);
      await run(cond, 3);
      assert.deepEqual(cache.stats, { prompts: 3, computed: 3, dropped: 2, kept: 1 });
      // Two voices at once with room for one: both runs read theirs; one is dropped after.
      await Promise.all([run(cond, 4), run(other, 5)]);
      assert.equal(cache.stats.kept, 1);
    } finally {
      cache.close();
    }
  });

  it('refuses bad input and prompts after close', async () => {
    const cache = new PrefixCache(session, { voices: 1 });
    await assert.rejects(cache.prefill(cond.data, [1, 3], prompt(2, 1)), /not \[1, latents, width\]/);
    await assert.rejects(cache.prefill(cond.data.subarray(1), cond.shape, prompt(2, 1)), /not \[1, latents, width\]/);
    await assert.rejects(cache.prefill(cond.data, cond.shape, []), /no text ids/);
    cache.close();
    await assert.rejects(cache.prefill(cond.data, cond.shape, prompt(2, 1)), /closed/);
    assert.throws(
      () => new PrefixCache(DeviceSession.open(join(fixture, 'package', 'gpt_prefill_fp32.onnx')), { voices: 1 }),
      /not a prefix prefill graph/,
    );
  });
});

describe('Xtts with kept voice prefixes and the fixed-shape step', () => {
  let withStep: string;
  let remove = () => {};
  before(async () => {
    ({ dir: withStep, remove } = await tinyPackageWith(['gpt_step_static_dmmha_fp32', 'gpt_prefill_prefix_fp32']));
  });
  after(() => remove());

  it('concurrent streams of two voices get the codes they get with one pass a prompt', async (t) => {
    const texts = STEP_TEXTS;
    const twoVoices = (i: number) => (i % 2 ? 0.5 : 1);
    const want = await concurrentStepCodes(withStep, texts, {}, twoVoices, (x) =>
      assert.equal(x.promptPath, 'one pass each', 'no prefix cache unless asked for'),
    );
    const got = await concurrentStepCodes(withStep, texts, { prefixCache: { voices: 4 } }, twoVoices, (x) => {
      assert.ok(x.gpt.devicePrefixes, 'the prefix graph is the prefill');
      assert.equal(x.promptPath, 'after kept voice prefixes (4 voices at most)');
      assert.equal(x.pkg.sessions.prefill.path.endsWith('gpt_prefill_prefix_fp32.onnx'), true);
      const s = x.gpt.devicePrefixes.stats;
      assert.equal(s.computed, 2, `two voices, each made once: ${JSON.stringify(s)}`);
      assert.ok(s.prompts >= texts.length);
      t.diagnostic(`prefix cache ${JSON.stringify(s)}`);
    });
    assert.deepEqual(got, want);
  });
});
