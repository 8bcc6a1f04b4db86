/**
 * The batched decode graphs (test/fixtures/tiny/batch/gpt_batch_fp32.onnx and
 * gpt_batch_fused_fp32.onnx, the fixture model's weights) driven by BatchedGpt, against today's batch-1 path (the package's gpt_decode_fp32 through
 * Gpt.decode / generateCodes) and the PyTorch reference's greedy codes: every sequence's codes in a
 * batch must equal, exactly, the codes it gets alone, and its latents agree within 1e-4.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { openSession, type Session } from '../runtime/index.ts';
import { BatchedGpt } from './batch.ts';
import { generateCodes, UniformSource } from './generate.ts';
import { type DecodeSettings, Gpt, greedy } from './gpt.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const refDir = join(fixture, 'reference');
const reference = JSON.parse(readFileSync(join(refDir, 'reference.json'), 'utf8')) as {
  text: { text_ids: number[] };
  greedy: { codes: number[] };
  files: Record<string, { shape: number[] }>;
};
const f32 = (name: string) => {
  const b = readFileSync(join(refDir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const cond = { data: f32('cond_latent.f32'), shape: reference.files['cond_latent.f32']?.shape as number[] };
const RUN = 8;

const LATENT_TOL = 1e-4;

type Spec = {
  name: string;
  text: string | null; // null: the reference sentence
  seed: number;
  settings: DecodeSettings;
  maxCodes: number;
  /** Round at which it joins the batch. */
  joins: number;
  /** Round after which it leaves the batch and goes on alone through Gpt.decode. */
  leavesAfter?: number;
  /** Rounds it sits out while a member. */
  sitsOut?: number[];
};

const sampled = (temperature: number, topK: number, topP: number, repetitionPenalty: number): DecodeSettings => ({
  temperature,
  topK,
  topP,
  repetitionPenalty,
});

const SPECS: Spec[] = [
  { name: 'greedy rp 1 (reference sentence)', text: null, seed: 1, settings: greedy(1), maxCodes: 40, joins: 0 },
  {
    name: 'greedy rp 5',
    text: 'The quick brown fox jumps over the lazy dog.',
    seed: 2,
    settings: greedy(5),
    maxCodes: 48,
    joins: 0,
    sitsOut: [2],
  },
  {
    name: 'greedy rp 10',
    text: 'It was a bright cold day in April.',
    seed: 3,
    settings: greedy(10),
    maxCodes: 45,
    joins: 0,
  },
  {
    name: 'sampled t 0.8 k 50 p 0.85 rp 2',
    text: 'Hello, world! This is a test.',
    seed: 4,
    settings: sampled(0.8, 50, 0.85, 2),
    maxCodes: 56,
    joins: 0,
  },
  {
    name: 'sampled t 1.1 k 20 p 0.95 rp 1, joins at round 2',
    text: 'She sells sea shells by the sea shore.',
    seed: 5,
    settings: sampled(1.1, 20, 0.95, 1),
    maxCodes: 44,
    joins: 2,
  },
  {
    name: 'sampled t 0.7 k all p 0.8 rp 3, leaves after round 1',
    text: 'How much wood would a woodchuck chuck?',
    seed: 6,
    settings: sampled(0.7, 0, 0.8, 3),
    maxCodes: 33,
    joins: 0,
    leavesAfter: 1,
  },
];

type Got = { codes: number[]; latents: number[] };

async function alone(gpt: Gpt, ids: readonly number[], s: Spec): Promise<Got> {
  const got: Got = { codes: [], latents: [] };
  for await (const run of generateCodes(gpt, cond, ids, {
    settings: s.settings,
    rng: new UniformSource(s.seed),
    runCodes: RUN,
    maxCodes: s.maxCodes,
    babbleGuard: null,
  })) {
    got.codes.push(...run.codes);
    got.latents.push(...run.latents);
  }
  return got;
}

// The traced step (batch.py) and the step from onnxruntime's fused operators (fused.py), same interface.
for (const graph of ['gpt_batch_fp32', 'gpt_batch_fused_fp32'])
  describe(`batched decode, ${graph} (tiny fixture, CPU)`, () => {
    let x: Xtts;
    let session: Session;
    let ids: number[][];
    before(async () => {
      x = await Xtts.load(join(fixture, 'package'), { warmUp: false });
      session = await openSession(join(fixture, 'batch', `${graph}.onnx`));
      ids = SPECS.map((s) =>
        s.text === null ? reference.text.text_ids : (x.sentenceIds(s.text, 'en')[0] as number[]),
      );
    });
    after(async () => {
      await session.release();
      await x.release();
    });

    it('one batch of one sequence reproduces the PyTorch greedy reference', async (t) => {
      const batch = new BatchedGpt(session, { audioStop: x.gpt.stopCode });
      const { cache } = await x.gpt.prefill(cond.data, cond.shape, reference.text.text_ids);
      const id = batch.join(cache);
      const want = reference.greedy.codes;
      const out = (
        await batch.decode([{ id, uniforms: new Float32Array(want.length).fill(0.5), settings: greedy(1) }])
      ).get(id);
      assert.deepEqual(out?.codes, want);
      const err = maxAbsDiff(out?.latents ?? [], f32('latents.f32'));
      assert.ok(err < LATENT_TOL, `latents max abs error ${err}`);
      t.diagnostic(`latents max abs error against PyTorch's full recompute ${err}`);
    });

    it('each sequence gets, in a changing batch, exactly the codes it gets alone', async (t) => {
      // A stop code that the sampled sequence emits mid-sentence (the tiny random model rarely emits its
      // own): both paths take the same one, so one sequence stops mid-run and leaves the batch.
      const probe = await alone(x.gpt, ids[3] as number[], SPECS[3] as Spec);
      const avoid = new Set(reference.greedy.codes);
      const at = probe.codes.findIndex((c, i) => i >= 18 && probe.codes.indexOf(c) === i && !avoid.has(c));
      assert.ok(at > 0, 'no usable stop code in the probe run');
      const stop = probe.codes[at] as number;
      const vocab = x.pkg.manifest.model.config.gpt_num_audio_tokens;
      const gpt = new Gpt(x.pkg.sessions.prefill, x.pkg.sessions.decode, {
        audioStart: x.pkg.manifest.tokens.audio_start,
        audioStop: stop,
        vocab,
      });

      const want: Got[] = [];
      for (const [i, s] of SPECS.entries()) want.push(await alone(gpt, ids[i] as number[], s));
      assert.equal(want[3]?.codes.at(-1), stop, 'the sampled sequence stops on the chosen code');
      assert.ok((want[3]?.codes.length ?? 0) % RUN !== 0, 'it stops mid-run');

      const batch = new BatchedGpt(session, { audioStop: stop });
      type Live = { i: number; id: number; rng: UniformSource; got: Got; done: boolean };
      const live: Live[] = [];
      const finished: Live[] = [];
      let reused = 0;
      let padded = 0;
      for (let round = 0; live.length > 0 || round <= Math.max(...SPECS.map((s) => s.joins)); round++) {
        for (const [i, s] of SPECS.entries()) {
          if (s.joins !== round) continue;
          const { cache } = await gpt.prefill(cond.data, cond.shape, ids[i] as number[]);
          live.push({
            i,
            id: batch.join(cache),
            rng: new UniformSource(s.seed),
            got: { codes: [], latents: [] },
            done: false,
          });
        }
        const running = live.filter((m) => !SPECS[m.i]?.sitsOut?.includes(round));
        // Odd rounds ask in reverse order: the driver must still feed the last outputs back when it can.
        const asked = round % 2 === 1 ? [...running].reverse() : running;
        const requests = asked.map((m) => {
          const s = SPECS[m.i] as Spec;
          return {
            id: m.id,
            uniforms: m.rng.peek(Math.min(RUN, s.maxCodes - m.got.codes.length)),
            settings: s.settings,
          };
        });
        const lengths = new Set(running.map((m) => batch.length(m.id)));
        const out = await batch.decode(requests);
        t.diagnostic(`round ${round}: ${JSON.stringify(batch.lastStats)}`);
        if (batch.lastStats?.reused) reused++;
        else if (lengths.size > 1) padded++;
        for (const m of running) {
          const r = out.get(m.id);
          assert.ok(r);
          const s = SPECS[m.i] as Spec;
          m.rng.advance(r.codes.length);
          m.got.codes.push(...r.codes);
          m.got.latents.push(...r.latents);
          m.done = r.codes.at(-1) === stop || m.got.codes.length >= s.maxCodes;
          if (m.done) batch.drop(m.id);
          else if (s.leavesAfter === round) {
            // Goes on alone: the cache it takes out must continue exactly as the batch-1 path would.
            const cache = batch.leave(m.id);
            while (!m.done) {
              const n = Math.min(RUN, s.maxCodes - m.got.codes.length);
              const run = await gpt.decode(cache, m.rng.peek(n), s.settings);
              m.rng.advance(run.codes.length);
              m.got.codes.push(...run.codes);
              m.got.latents.push(...run.latents.subarray(0, run.codes.length * run.width));
              m.done = run.codes.at(-1) === stop || m.got.codes.length >= s.maxCodes;
            }
            cache.dispose();
            m.done = true;
          }
        }
        for (const m of live.filter((m) => m.done)) finished.push(m);
        live.splice(0, live.length, ...live.filter((m) => !m.done));
      }
      assert.equal(batch.size, 0);
      assert.equal(finished.length, SPECS.length);
      assert.ok(reused > 0, 'some run fed the last outputs back without packing');
      assert.ok(padded > 0, 'some run packed sequences of different lengths');
      let worst = 0;
      for (const m of finished) {
        const s = SPECS[m.i] as Spec;
        const w = want[m.i] as Got;
        assert.deepEqual(m.got.codes, w.codes, `${s.name}: codes`);
        const err = maxAbsDiff(m.got.latents, w.latents);
        assert.ok(err < LATENT_TOL, `${s.name}: latents max abs error ${err}`);
        worst = Math.max(worst, err);
        t.diagnostic(`${s.name}: ${w.codes.length} codes, latents max abs error ${err}`);
      }
      t.diagnostic(`stop code ${stop}; runs reusing the last outputs ${reused}, runs packing mixed lengths ${padded}`);
      t.diagnostic(`latents max abs error over all sequences ${worst}`);
    });
  });
