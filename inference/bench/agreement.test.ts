/**
 * The int8 CPU variant of the GPT graphs at the tiny size: a package that carries it loads it by
 * default on CPU, keeps fp32 on request, refuses int8 when it lacks it, and its decoding agrees
 * with fp32 in top-1 (the graphs are the committed test/fixtures/tiny/int8 ones, made from the
 * fixture's fp32 graphs by trainer/xtts/export/quantize.py; npm run fixture:tiny remakes them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runPython } from '../../trainer/index.ts';
import { EngineError } from '../engine/types.ts';
import { greedy } from '../xtts/gpt.ts';
import { loadPackage, openSessionCount } from '../xtts/package.ts';
import { Xtts } from '../xtts/xtts.ts';
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

/** A quantized variant against the same package's fp32 graphs: 12 teacher-forced steps of 3 sentences. */
async function agreesWithFp32(dir: string, variant: 'int8' | 'int4'): Promise<void> {
  const a = await compareVariants(dir, dir, {
    reference: 'fp32',
    variant,
    steps: 12,
    freeSteps: 12,
    sentences: AGREEMENT_SENTENCES.slice(0, 3),
  });
  assert.equal(a.steps, 36);
  assert.ok(a.top1Agreement >= 0.9, a.summary);
  assert.ok(a.logitRmsRelErr > 0 && a.logitRmsRelErr < 0.05, a.summary);
  assert.ok(a.speakerCosine > 0.99, a.summary);
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

  // Measured at 99.1% over 320 steps with u8 weights on an AVX2 CPU without VNNI (npm run
  // bench:inference -- --only tiny); s8 weights gave 75% over these 36 steps there (saturation).
  it('decode with the same top-1 code as fp32 on nearly every teacher-forced step', () => agreesWithFp32(dir, 'int8'));

  it('merged into one graph (as the quantizer writes it): one session, each weight once, the same logits and codes', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'xtts-int8-shared-'));
    try {
      cpSync(dir, shared, { recursive: true });
      const r = await runPython('xtts.export.quantize', [shared, '--merge-only']);
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(readFileSync(join(shared, 'manifest.json'), 'utf8')) as {
        graphs: Record<string, { file: string; external_data?: string[] }>;
        files: Record<string, unknown>;
      };
      assert.equal(m.graphs.gpt_prefill_int8?.file, 'gpt_int8.onnx');
      assert.equal(m.graphs.gpt_decode_int8?.file, 'gpt_int8.onnx');
      assert.ok(!('gpt_decode_int8.onnx' in m.files));
      const before = openSessionCount();
      const two = await Xtts.load(dir, { precision: 'int8', warmUp: false });
      const opened = openSessionCount() - before;
      const one = await Xtts.load(shared, { precision: 'int8', warmUp: false });
      try {
        // Conditioning, speaker encoder and HiFi-GAN, then two GPT sessions, or one.
        assert.equal(opened, 5);
        assert.equal(openSessionCount() - before - opened, 4);
        assert.ok(one.gpt.shared && !two.gpt.shared);
        // The weights (most of both files) are stored once, in a file beside the graph.
        assert.deepEqual(m.graphs.gpt_decode_int8?.external_data, ['gpt_int8.onnx.data']);
        const gptBytes = ['gpt_int8.onnx', 'gpt_int8.onnx.data'].reduce(
          (a, f) => a + statSync(join(shared, f)).size,
          0,
        );
        const separate = ['gpt_prefill_int8.onnx', 'gpt_decode_int8.onnx'].reduce(
          (a, f) => a + statSync(join(dir, f)).size,
          0,
        );
        assert.ok(gptBytes < 0.7 * separate, `${gptBytes} vs ${separate}`);
        assert.ok(one.bytes < two.bytes);
        const voice = await two.computeVoice([readFileSync(join(tiny, 'ref.wav'))]);
        const ids = two.sentenceIds('The weights are stored once.', 'en')[0] as number[];
        const a = await two.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
        const b = await one.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
        const maxDiff = (x: Float32Array, y: Float32Array) =>
          x.reduce((m, v, i) => Math.max(m, Math.abs(v - (y[i] as number))), 0);
        assert.equal(b.logits.length, a.logits.length);
        assert.ok(maxDiff(a.logits, b.logits) < 1e-4, `prefill logits differ by ${maxDiff(a.logits, b.logits)}`);
        assert.deepEqual(b.cache.length, a.cache.length);
        const u = Float32Array.from({ length: 16 }, (_, i) => ((i * 0.37) % 1) + 0.01);
        const settings = { temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 2 };
        for (const run of [u.subarray(0, 10), u.subarray(10)]) {
          const da = await two.gpt.decode(a.cache, run, settings);
          const db = await one.gpt.decode(b.cache, run, settings);
          assert.deepEqual(db.codes, da.codes);
          assert.ok(maxDiff(da.latents, db.latents) < 1e-4);
        }
        assert.equal(b.cache.generated, a.cache.generated);
        // And it decodes greedily to the end like any decode graph.
        const g = await one.gpt.decode(b.cache, new Float32Array(4).fill(0.5), greedy(2));
        assert.equal(g.codes.length, 4);
        // The weights file is checked against the manifest like the graph.
        const data = join(shared, 'gpt_int8.onnx.data');
        const bytes = readFileSync(data);
        bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 1;
        writeFileSync(data, bytes);
        await assert.rejects(loadPackage(shared, { precision: 'int8' }), (e) => {
          assert.ok(e instanceof EngineError);
          assert.equal(e.code, 'MODEL_CORRUPT');
          assert.match(e.message, /gpt_int8\.onnx\.data: sha256/);
          return true;
        });
      } finally {
        await one.release();
        await two.release();
      }
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});

describe('int4 GPT graphs (tiny, made by the quantizer)', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xtts-int4-'));
    cpSync(join(tiny, 'package'), dir, { recursive: true });
    const r = await runPython('xtts.export.quantize', [dir, '--precision', 'int4']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are one graph of 4-bit MatMulNBits weights, opened only when asked for (alone in a package, fp32 opens by default)', async () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      graphs: Record<string, { file: string; precision?: string; quantization?: { weights: string } }>;
    };
    assert.equal(m.graphs.gpt_decode_int4?.file, 'gpt_int4.onnx');
    assert.equal(m.graphs.gpt_prefill_int4?.file, 'gpt_int4.onnx');
    assert.match(m.graphs.gpt_decode_int4?.quantization?.weights ?? '', /^4-bit/);
    const graph = readFileSync(join(dir, 'gpt_int4.onnx'));
    assert.ok(graph.includes('MatMulNBits'), 'the graph multiplies with 4-bit weights');
    const auto = await loadPackage(dir);
    assert.equal(auto.precision, 'fp32', 'a package with only int4 graphs defaults to fp32 on CPU');
    await auto.release();
    const q = await loadPackage(dir, { precision: 'int4' });
    try {
      assert.equal(q.precision, 'int4');
      const fp32 = await loadPackage(dir, { precision: 'fp32' });
      assert.ok(q.bytes < fp32.bytes, `${q.bytes} < ${fp32.bytes}`);
      await fp32.release();
    } finally {
      await q.release();
    }
  });

  // Measured at 98.8% over 320 steps (npm run bench:inference -- --only tiny --precision fp32,int4).
  it('decode with the same top-1 code as fp32 on nearly every teacher-forced step', () => agreesWithFp32(dir, 'int4'));
});

/**
 * Mel-cepstral distance (dB) the int8 HiFi-GAN must stay under at the tiny size, over fp32's latents:
 * measured 6.7 dB there (4.1 dB at full size, README's benchmark); a graph that garbles its output lands far above.
 */
const VOCODER_MCD_DB = 9;

describe('int8 HiFi-GAN (tiny, made by the quantizer)', () => {
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xtts-hifigan-int8-'));
    packageWithInt8(dir);
    const r = await runPython('xtts.export.quantize', [dir, '--vocoder-only']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is a QDQ graph calibrated on the package, opened when asked for, refused where absent', async () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
      graphs: Record<string, { file: string; precision?: string; quantization?: { calibration: string } }>;
    };
    assert.equal(m.graphs.hifigan_int8?.file, 'hifigan_int8.onnx');
    assert.equal(m.graphs.hifigan_int8?.precision, 'int8');
    assert.match(m.graphs.hifigan_int8?.quantization?.calibration ?? '', /own fp32 GPT/);
    assert.ok(readFileSync(join(dir, 'hifigan_int8.onnx')).includes('QuantizeLinear'));
    const auto = await loadPackage(dir);
    assert.equal(auto.precision, 'int8');
    assert.equal(auto.vocoder, 'hifigan', 'HiFi-GAN stays fp32 unless int8 is asked for');
    const q = await loadPackage(dir, { vocoderPrecision: 'int8' });
    assert.equal(q.vocoder, 'hifigan_int8');
    await q.release();
    await auto.release();
    const gptFp32 = await loadPackage(dir, { precision: 'fp32', vocoderPrecision: 'int8' });
    assert.equal(gptFp32.vocoder, 'hifigan_int8');
    await gptFp32.release();
    await assert.rejects(loadPackage(join(tiny, 'package'), { vocoderPrecision: 'int8' }), (e) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'MODEL_NOT_FOUND');
      assert.match(e.message, /no hifigan_int8 graph/);
      return true;
    });
  });

  it("is left out of a package whose HiFi-GAN is its base's (a fine-tuned one), and asked for alone there, refused", async () => {
    const own = mkdtempSync(join(tmpdir(), 'xtts-no-hifigan-'));
    try {
      cpSync(join(tiny, 'package'), own, { recursive: true });
      const path = join(own, 'manifest.json');
      const m = JSON.parse(readFileSync(path, 'utf8')) as { graphs: Record<string, unknown> };
      delete m.graphs.hifigan;
      writeFileSync(path, JSON.stringify(m));
      const r = await runPython('xtts.export.quantize', [own]);
      assert.equal(r.code, 0, r.stderr);
      const after = JSON.parse(readFileSync(path, 'utf8')) as { graphs: Record<string, unknown> };
      assert.ok(after.graphs.gpt_decode_int8 && !after.graphs.hifigan_int8, Object.keys(after.graphs).join(', '));
      const alone = await runPython('xtts.export.quantize', [own, '--vocoder-only']);
      assert.equal(alone.code, 1);
      assert.match(alone.stderr, /no hifigan graph to quantize \(a fine-tuned package uses its base's HiFi-GAN/);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('renders the same latents close to fp32 HiFi-GAN', async () => {
    const a = await compareVariants(dir, dir, {
      reference: 'fp32',
      variant: 'int8',
      variantVocoder: 'int8',
      steps: 24,
      freeSteps: 4,
      sentences: AGREEMENT_SENTENCES.slice(0, 2),
    });
    assert.ok(a.vocoder, a.summary);
    assert.equal(a.vocoder.graph, 'hifigan_int8');
    assert.ok(a.vocoder.vocoderMcdDb > 0 && a.vocoder.vocoderMcdDb < VOCODER_MCD_DB, a.summary);
    assert.ok(a.vocoder.vocoderSpeakerCosine > 0.99, a.summary);
  });
});
