/** Generation guards, HiFi-GAN buckets and speed, and the streaming windows, on the tiny fixture package. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError, type VoiceConditioning } from '../engine/types.ts';
import { referenceInputIds, softmax } from '../generation/logits-processors.ts';
import { draw, Sampler } from '../generation/sampler.ts';
import { type CodeRun, generateCodes, UniformSource } from './generate.ts';
import { bucketFor, DEFAULT_BUCKETS, Hifigan, outputSamples, stretchLatents } from './hifigan.ts';
import { staticSizes } from './package.ts';
import { DEFAULT_STREAM, StreamChunker } from './stream.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const text = 'Hello, world! This is a test.';

describe('engine behaviour (tiny fixture)', () => {
  let x: Xtts;
  let voice: VoiceConditioning;
  let ids: number[];
  before(async () => {
    x = await Xtts.load(join(fixture, 'package'));
    voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
    ids = x.sentenceIds(text, 'en')[0] as number[];
  });
  after(() => x.release());

  it('counts the prompt passes in flight, and says when none is left (what prefillFirst waits for)', async () => {
    assert.equal(x.gpt.prefillsInFlight, 0);
    await x.gpt.prefillsIdle();
    const a = x.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
    const b = x.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
    assert.equal(x.gpt.prefillsInFlight, 2);
    let idle = false;
    const waiting = x.gpt.prefillsIdle().then(() => {
      idle = true;
    });
    assert.equal(x.gpt.prefillsIdle(), x.gpt.prefillsIdle(), 'waiters share one promise');
    (await a).cache.dispose();
    assert.equal(idle, false, 'one pass is still in flight');
    (await b).cache.dispose();
    await waiting;
    assert.equal(x.gpt.prefillsInFlight, 0);
    // A failed pass counts out too.
    await assert.rejects(x.gpt.prefill(voice.gptCondLatent, [1, 1, 1], ids));
    assert.equal(x.gpt.prefillsInFlight, 0);
  });

  it('refuses sampling settings it cannot use with PARAMS_INVALID, naming them', () => {
    for (const bad of [
      { temperature: 0 },
      { topP: 1.5 },
      { repetitionPenalty: -1 },
      { seed: 0.5 },
      { speed: Number.NaN },
    ]) {
      assert.throws(
        () => x.params(bad),
        (e: unknown) => e instanceof EngineError && e.code === 'PARAMS_INVALID' && /^params/.test(e.field ?? ''),
        JSON.stringify(bad),
      );
    }
    assert.equal(x.params({ speed: 9 }).speed, 4, 'speed is clamped to 0.25–4');
  });

  const generate = async (runCodes: number, babble: { maxRepeatRun: number; maxCodesPerTextToken: number } | null) => {
    const runs: CodeRun[] = [];
    const p = x.params({ seed: 3 });
    for await (const r of generateCodes(x.gpt, { data: voice.gptCondLatent, shape: voice.gptCondShape }, ids, {
      settings: { temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty },
      rng: new UniformSource(3),
      runCodes,
      maxCodes: x.pkg.manifest.tokens.max_audio_codes,
      babbleGuard: babble,
    }))
      runs.push(r);
    return runs;
  };

  it('the length guard ends a sentence at the package limit, and sampling does not depend on run size', async () => {
    const a = await generate(20, null);
    const b = await generate(9, null);
    const codes = (rs: CodeRun[]) => rs.flatMap((r) => r.codes);
    assert.deepEqual(codes(a), codes(b));
    const last = a.at(-1) as CodeRun;
    assert.ok(last.done);
    if (last.reason === 'max_new_tokens') assert.equal(codes(a).length, x.pkg.manifest.tokens.max_audio_codes);
    else assert.equal(last.reason, 'stop_token');
  });

  it('the babble guard cuts a run short where it trips, and is off by default', async () => {
    const runs = await generate(20, { maxRepeatRun: 40, maxCodesPerTextToken: 0.5 });
    const n = runs.reduce((k, r) => k + r.codes.length, 0);
    assert.equal(n, Math.ceil(ids.length * 0.5));
    assert.equal(runs.at(-1)?.reason, 'too_long_for_text');
    assert.equal(runs.at(-1)?.latents.length, (runs.at(-1)?.codes.length ?? 0) * (runs[0]?.width ?? 0));
    assert.equal(x.params({}).babbleGuard, false);
  });

  it('HiFi-GAN buckets: few shapes, same length, same audio', async () => {
    const [run] = await generate(37, null);
    const lat = (run as CodeRun).latents;
    const spk = voice.speakerEmbedding;
    const exact = await x.hifigan.decode(lat, 37, 32, spk);
    const bucketed = new Hifigan(x.pkg.sessions.hifigan, DEFAULT_BUCKETS);
    const padded = await bucketed.decode(lat, 37, 32, spk);
    assert.equal(padded.length, exact.length);
    assert.equal(padded.length, outputSamples(37));
    let err = 0;
    for (let i = 0; i < exact.length; i++) err = Math.max(err, Math.abs((exact[i] as number) - (padded[i] as number)));
    assert.ok(err < 1e-5, `padded to 64: ${err}`);
    for (const n of [3, 19, 20, 26, 33]) await bucketed.decode(lat, n, 32, spk);
    assert.deepEqual(
      [...bucketed.shapesSeen].sort((a, b) => a - b),
      [8, 32, 64],
    );
    assert.equal(bucketFor(700, DEFAULT_BUCKETS), 768);
  });

  it('HiFi-GAN buckets with a session each: every session sees one shape, the audio is the same', async () => {
    const [run] = await generate(37, null);
    const lat = (run as CodeRun).latents;
    const spk = voice.speakerEmbedding;
    const shared = new Hifigan(x.pkg.sessions.hifigan, DEFAULT_BUCKETS);
    const opened: number[] = [];
    const perBucket = new Hifigan(x.pkg.sessions.hifigan, DEFAULT_BUCKETS, (bucket) => {
      opened.push(bucket);
      return x.pkg.openHifigan(bucket);
    });
    for (const n of [20, 37, 5, 37]) {
      assert.deepEqual(await perBucket.decode(lat, n, 32, spk), await shared.decode(lat, n, 32, spk), `${n} codes`);
    }
    assert.deepEqual(opened, [32, 64, 8], 'one session per bucket met, none reopened');
    assert.equal(await perBucket.warmUp(32, spk.length, DEFAULT_BUCKETS.length), DEFAULT_BUCKETS.length);
    assert.deepEqual(
      opened.sort((a, b) => a - b),
      [...DEFAULT_BUCKETS],
      'a session for every bucket',
    );
  });

  it('speed stretches the latents as F.interpolate(linear) does', () => {
    const lat = Float32Array.from([0, 10, 20, 30]); // 4 frames, width 1
    // scale 2 (speed 0.5): source = (j + 0.5) / 2 - 0.5, clamped at 0 and at the last frame.
    assert.deepEqual([...stretchLatents(lat, 4, 1, 2)], [0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30]);
    // scale 0.5 (speed 2): source = 2j + 0.5.
    assert.deepEqual([...stretchLatents(lat, 4, 1, 0.5)], [5, 25]);
  });

  it('a faster voice is shorter', async () => {
    const [run] = await generate(30, null);
    const lat = (run as CodeRun).latents;
    const normal = await x.hifigan.decode(lat, 30, 32, voice.speakerEmbedding);
    const fast = await x.hifigan.decode(lat, 30, 32, voice.speakerEmbedding, 2);
    assert.equal(fast.length, outputSamples(15));
    assert.ok(fast.length < normal.length / 1.9);
  });

  it('streaming decodes windows of new latents plus a little context, not everything so far', async () => {
    const runs = await generate(20, null);
    const windows: number[] = [];
    const chunker = new StreamChunker(32, (l, n) => {
      windows.push(n);
      return x.hifigan.decode(l, n, 32, voice.speakerEmbedding);
    });
    let total = 0;
    for (const r of runs) total += (await chunker.push(r.latents, r.codes.length, r.done)).length;
    const context = Math.ceil(DEFAULT_STREAM.leftContext / DEFAULT_STREAM.samplesPerCode) + 2;
    assert.ok(
      windows.every((n) => n <= 20 + context),
      `windows ${windows}`,
    );
    const codes = runs.reduce((k, r) => k + r.codes.length, 0);
    assert.ok(Math.abs(total - outputSamples(codes)) <= 256, `${total} vs ${outputSamples(codes)}`);
  });
});

describe('long text', () => {
  it('is split into sentences that fit the model, joined by pauses of silence', async () => {
    const x = await Xtts.load(join(fixture, 'package'), { maxAudioCodes: 8, sentencePauseSamples: 2400 });
    try {
      const long = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a longer text.`).join(' ');
      const pieces = x.sentenceIds(long, 'en');
      assert.ok(pieces.length >= 2, `${pieces.length} pieces`);
      assert.ok(pieces.every((p) => p.length - 2 < x.pkg.manifest.tokens.max_text_tokens));
      const voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
      const r = await x.render({ text: long, language: 'en', voice });
      const per = outputSamples(8);
      assert.equal(r.samples.length, pieces.length * per + (pieces.length - 1) * 2400);
      const pause = r.samples.subarray(per, per + 2400);
      assert.ok(pause.every((v) => v === 0));
      let streamed = 0;
      for await (const c of x.stream({ text: long, language: 'en', voice })) streamed += c.samples.length;
      assert.ok(Math.abs(streamed - r.samples.length) <= 256 * pieces.length);
    } finally {
      await x.release();
    }
  });
});

describe('a text-token cap below the model limit (maxTextTokens)', () => {
  it('splits a sentence over the cap into pieces under it, with the same words, and sizes the step by it', async () => {
    const x = await Xtts.load(join(fixture, 'package'), { maxTextTokens: 20, warmUp: false });
    const plain = await Xtts.load(join(fixture, 'package'), { warmUp: false });
    try {
      const sentence = 'The quick brown fox jumps over the lazy dog.';
      const whole = plain.sentenceIds(sentence, 'en');
      assert.equal(whole.length, 1, 'one piece under the model limit');
      assert.ok(
        (whole[0] as number[]).length - 2 >= 12,
        `the sentence has ${(whole[0] as number[]).length - 2} tokens`,
      );
      const pieces = x.sentenceIds(sentence, 'en');
      assert.ok(pieces.length >= 2, `${pieces.length} pieces`);
      assert.ok(
        pieces.every((p) => p.length - 2 < 20),
        pieces.map((p) => p.length - 2).join(', '),
      );
      const t = x.pkg.manifest.tokens;
      const inner = (p: number[]) => p.slice(1, -1);
      assert.deepEqual(
        pieces.flatMap((p) => [p[0], p.at(-1)]),
        pieces.flatMap(() => [t.text_start, t.text_stop]),
      );
      // The same tokens, at most re-tokenized at the cut: the words all survive.
      assert.ok(pieces.flatMap(inner).length >= inner(whole[0] as number[]).length - pieces.length);
      const m = x.pkg.manifest;
      // The longest prompt (latents, [START], fewer than 12 tokens, [STOP], audio start) and every code.
      assert.equal(
        staticSizes(m, { slots: 2 }, 12).maxLen,
        m.model.config.perceiver_latents + 12 + 2 + t.max_audio_codes,
      );
      assert.equal(
        staticSizes(m, { slots: 2 }).maxLen,
        m.model.config.perceiver_latents + t.max_text_tokens + 2 + t.max_audio_codes,
      );
      assert.equal(staticSizes(m, {}, 10_000).maxLen, staticSizes(m).maxLen, 'never above the model limit');
      // A code cap takes its positions off every slot, never above the model's either.
      assert.equal(
        staticSizes(m, { slots: 2 }, 12, 30).maxLen,
        m.model.config.perceiver_latents + 12 + 2 + Math.min(30, t.max_audio_codes),
      );
      assert.equal(staticSizes(m, {}, undefined, 1e9).maxLen, staticSizes(m).maxLen, 'code cap above the limit');
    } finally {
      await x.release();
      await plain.release();
    }
  });
});

describe('in-graph sampling', () => {
  it('picks the code that the TypeScript logits processors and inverse-CDF draw pick, for the same uniform', async () => {
    const x = await Xtts.load(join(fixture, 'package'));
    try {
      const voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
      const ids = x.sentenceIds(text, 'en')[0] as number[];
      const settings = { temperature: 0.75, topK: 50, topP: 0.85, repetitionPenalty: 5 };
      const sampler = new Sampler({
        temperature: 0.75,
        top_k: 50,
        top_p: 0.85,
        repetition_penalty: 5,
        do_sample: true,
        seed: 0,
      });
      let agree = 0;
      const trials = 24;
      for (let i = 0; i < trials; i++) {
        const u = (i + 0.5) / trials;
        const { cache, logits } = await x.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
        const inGraph = (await x.gpt.decode(cache, Float32Array.of(u), settings)).codes[0];
        cache.dispose();
        const l = Float32Array.from(logits);
        for (const p of sampler.processors) p(l, referenceInputIds(ids.length + 32, 1024, []));
        if (inGraph === draw(softmax(l), u)) agree++;
      }
      assert.equal(agree, trials);
    } finally {
      await x.release();
    }
  });
});
