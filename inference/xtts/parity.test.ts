/**
 * Parity of the TypeScript engine with the PyTorch reference on the tiny fixture package
 * (test/fixtures/tiny: the package, the reference clip, and outputs computed in PyTorch).
 * Every comparison is against those reference numbers, never against this code's own output.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { loadReference } from '../audio/reference.ts';
import { generateCodes, UniformSource } from './generate.ts';
import { greedy } from './gpt.ts';
import { melTensorData, speakerEmbedding } from './voice.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const refDir = join(fixture, 'reference');
const reference = JSON.parse(readFileSync(join(refDir, 'reference.json'), 'utf8')) as {
  text: { lang: string; normalised: string; text_ids: number[] };
  greedy: { codes: number[] };
  files: Record<string, { shape: number[] }>;
};
const f32 = (name: string) => {
  const b = readFileSync(join(refDir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

describe('parity with the PyTorch reference (tiny fixture, fp32, CPU)', () => {
  let x: Xtts;
  let ref22k: Float32Array;
  const codes = reference.greedy.codes;
  before(async () => {
    x = await Xtts.load(join(fixture, 'package'), { maxAudioCodes: codes.length });
    ref22k = await loadReference(readFileSync(join(fixture, 'ref.wav')), { maxSeconds: 30 });
  });
  after(() => x.release());

  it('token ids of the fixture sentence, with [START] and [STOP]', () => {
    assert.deepEqual(x.sentenceIds(reference.text.normalised, reference.text.lang), [reference.text.text_ids]);
  });

  it('conditioning log-mel within 1e-4 of torchaudio', (t) => {
    const { data, frames } = melTensorData(ref22k, x.pkg.melStats);
    const want = f32('cond_logmel.f32'); // before the division by mel_stats
    assert.equal(frames * 80, want.length);
    const scaled = Float32Array.from(want, (v, i) => v / (x.pkg.melStats[Math.floor(i / frames)] as number));
    const err = maxAbsDiff(data, scaled);
    assert.ok(err < 1e-4, `mel max abs error ${err}`);
    t.diagnostic(`mel max abs error ${err}`);
  });

  it('conditioning latents within 1e-4', async (t) => {
    const voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
    assert.deepEqual(voice.gptCondShape, reference.files['cond_latent.f32']?.shape);
    const err = maxAbsDiff(voice.gptCondLatent, f32('cond_latent.f32'));
    assert.ok(err < 1e-4, `cond latent max abs error ${err}`);
    t.diagnostic(`cond latent max abs error ${err}`);
  });

  it('speaker embedding within 1e-4', async (t) => {
    const err = maxAbsDiff(await speakerEmbedding(x.pkg, ref22k), f32('speaker.f32'));
    assert.ok(err < 1e-4, `speaker max abs error ${err}`);
    t.diagnostic(`speaker max abs error ${err}`);
  });

  it('first-step logits within 1e-4, greedy codes identical, latents within 1e-4', async (t) => {
    const cond = f32('cond_latent.f32');
    const shape = reference.files['cond_latent.f32']?.shape as number[];
    const { cache, logits } = await x.gpt.prefill(cond, shape, reference.text.text_ids);
    cache.dispose();
    const logitsErr = maxAbsDiff(logits, f32('logits0.f32'));
    assert.ok(logitsErr < 1e-4, `logits max abs error ${logitsErr}`);
    t.diagnostic(`logits max abs error ${logitsErr}`);

    const got: number[] = [];
    const lat: number[] = [];
    // Runs of 7 codes: the result must not depend on how the decode is cut into Loop runs.
    for await (const run of generateCodes(x.gpt, { data: cond, shape }, reference.text.text_ids, {
      settings: greedy(1),
      rng: new UniformSource(0),
      runCodes: 7,
      maxCodes: codes.length,
      babbleGuard: null,
    })) {
      got.push(...run.codes);
      lat.push(...run.latents);
    }
    assert.deepEqual(got, codes);
    const latErr = maxAbsDiff(lat, f32('latents.f32'));
    assert.ok(latErr < 1e-4, `latents max abs error ${latErr}`);
    t.diagnostic(`latents max abs error ${latErr}`);
  });

  it('waveform within 1e-3: HiFi-GAN on the reference latents and speaker', async (t) => {
    const spk = f32('speaker.f32');
    const want = f32('wav24k.f32');
    const wav = await x.hifigan.decode(f32('latents.f32'), codes.length, 32, spk);
    const err = maxAbsDiff(wav, want);
    assert.ok(err < 1e-3, `waveform max abs error ${err}`);
    t.diagnostic(`waveform max abs error ${err}`);
  });

  it('end to end: clip bytes → voice → greedy render equals the reference waveform within 1e-3', async (t) => {
    const voice = await x.computeVoice([readFileSync(join(fixture, 'ref.wav'))]);
    const r = await x.render({
      text: 'Hello, world! This is a test.',
      language: 'en',
      voice,
      params: { topK: 1, temperature: 1, topP: 1, repetitionPenalty: 1 },
    });
    assert.deepEqual(r.codes, [codes]);
    const err = maxAbsDiff(r.samples, f32('wav24k.f32'));
    assert.ok(err < 1e-3, `waveform max abs error ${err}`);
    t.diagnostic(`waveform max abs error ${err}`);
  });
});
