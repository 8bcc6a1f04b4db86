/**
 * How closely a GPT-graph variant (e.g. int8) follows the fp32 reference of the same package, on
 * fixed inputs (sentences in several languages, one voice from a fixed clip):
 *
 * - teacher-forced on fp32's greedy codes, step by step: how often the variant's top-1 code equals
 *   fp32's, and the logit error (max and RMS of the difference, relative to fp32's logit RMS);
 * - free-running greedy decoding (the package's repetition penalty): the first step at which the
 *   variant's codes differ from fp32's, within `freeSteps`;
 * - audio of the same codes: HiFi-GAN (the package's one graph) over each variant's latents for fp32's
 *   greedy codes; mel-cepstral distance (dB, coefficients 1-13 of the log mel) and the speaker-embedding
 *   cosine between the two renders;
 * - where the variant has its own HiFi-GAN (int8's hifigan_int8): that HiFi-GAN alone over fp32's
 *   latents, and the variant as served (its latents through its HiFi-GAN), each against fp32's render.
 *
 * With random weights these measure numerical agreement only, not what a listener would hear.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONDITIONING_MEL, melFilterbank, melSpectrogram } from '../audio/mel.ts';
import { resample } from '../audio/resample.ts';
import { type Tensor, tensor } from '../runtime/index.ts';
import { decodeOutput, greedy, nextDecodeState } from '../xtts/gpt.ts';
import type { Precision } from '../xtts/package.ts';
import { speakerEmbedding } from '../xtts/voice.ts';
import { Xtts, type XttsOptions } from '../xtts/xtts.ts';

export const AGREEMENT_SENTENCES: readonly { language: string; text: string }[] = [
  { language: 'en', text: 'The quick brown fox jumps over the lazy dog.' },
  { language: 'en', text: 'Please call me back when you get a moment.' },
  { language: 'es', text: 'Hoy hace un día muy bonito en la ciudad.' },
  { language: 'fr', text: 'Je voudrais un café avec un peu de lait.' },
  { language: 'de', text: 'Ich habe heute keine Zeit, vielleicht morgen.' },
  { language: 'it', text: 'La cena è pronta, vieni a tavola.' },
  { language: 'pt', text: 'Obrigado pela ajuda, até amanhã.' },
  { language: 'nl', text: 'Het regent al de hele dag in Amsterdam.' },
];

export type AgreementOptions = Pick<XttsOptions, 'device' | 'intraOpThreads'> & {
  reference: Precision;
  variant: Precision;
  /** The variant's HiFi-GAN (default fp32, the reference's). */
  variantVocoder?: 'fp32' | 'int8';
  /** Teacher-forced steps per sentence (default 40). */
  steps?: number;
  /** Free-running greedy codes per sentence (default 50). */
  freeSteps?: number;
  sentences?: readonly { language: string; text: string }[];
};

export type Agreement = {
  reference: Precision;
  variant: Precision;
  sentences: number;
  steps: number;
  top1Agreement: number;
  /** Median over steps of max |Δlogit| / RMS(fp32 logits), and of RMS(Δlogit) / RMS(fp32 logits). */
  logitMaxRelErr: number;
  logitRmsRelErr: number;
  /** Over all teacher-forced steps: the median and the largest max |Δlogit| (absolute). */
  logitMaxAbsErrMedian: number;
  logitMaxAbsErr: number;
  /** Per sentence: the first free-running greedy step whose code differs (null: none within freeSteps). */
  firstDivergence: (number | null)[];
  freeSteps: number;
  identicalFreeRuns: number;
  /** Mean over sentences of the renders' mel-cepstral distance (dB) and speaker-embedding cosine. */
  melCepstralDistanceDb: number;
  speakerCosine: number;
  /**
   * When the variant has its own HiFi-GAN (int8's hifigan_int8): the variant's HiFi-GAN against
   * fp32's over fp32's latents (the vocoder alone), and the variant as served (its GPT's latents
   * through its HiFi-GAN) against fp32 as served; mel-cepstral distance (dB), speaker cosine.
   */
  vocoder?: {
    graph: string;
    vocoderMcdDb: number;
    vocoderSpeakerCosine: number;
    servedMcdDb: number;
    servedSpeakerCosine: number;
  };
  summary: string;
};

const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
const argmax = (a: Float32Array) => a.reduce((best, v, i) => (v > (a[best] as number) ? i : best), 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;

/**
 * Log-mel cepstra (DCT-II of the natural-log mel, coefficients 1..13) per frame; the usual
 * mel-cepstral distance is (10 / ln 10) * sqrt(2 * sum over coefficients of the squared difference).
 */
function cepstra(wav24k: Float32Array): Float64Array[] {
  const x = resample(wav24k, 24000, CONDITIONING_MEL.sampleRate);
  const mel = melSpectrogram(x, CONDITIONING_MEL, melFilterbank(CONDITIONING_MEL));
  const nMels = mel.length;
  const frames = mel[0]?.length ?? 0;
  const out: Float64Array[] = [];
  for (let t = 0; t < frames; t++) {
    const c = new Float64Array(13);
    for (let k = 1; k <= 13; k++) {
      let acc = 0;
      for (let m = 0; m < nMels; m++)
        acc +=
          Math.log(Math.max((mel[m] as Float32Array)[t] as number, 1e-10)) *
          Math.cos((Math.PI * k * (m + 0.5)) / nMels);
      c[k - 1] = acc * Math.sqrt(2 / nMels);
    }
    out.push(c);
  }
  return out;
}

function melCepstralDistance(a: Float32Array, b: Float32Array): number {
  const ca = cepstra(a);
  const cb = cepstra(b);
  const n = Math.min(ca.length, cb.length);
  let sum = 0;
  for (let t = 0; t < n; t++) {
    let d = 0;
    for (let k = 0; k < 13; k++)
      d += (((ca[t] as Float64Array)[k] as number) - ((cb[t] as Float64Array)[k] as number)) ** 2;
    sum += (10 / Math.LN10) * Math.sqrt(2 * d);
  }
  return n ? sum / n : Number.NaN;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

/** One GPT step with the code to feed forced: the carried logits are replaced by a one-hot choice. */
async function forcedStep(x: Xtts, state: Record<string, Tensor>, code: number) {
  const vocab = x.gpt.vocab;
  const forced = new Float32Array(vocab).fill(-1e9);
  forced[code] = 0;
  const out = await x.gpt.decodeSession.run({
    ...state,
    logits: tensor('float32', forced, [1, vocab]),
    max_steps: tensor('int64', [1], []),
    uniforms: tensor('float32', [0.5], [1]),
    stop_code: tensor('int64', [x.gpt.stopCode], [1]),
    temperature: tensor('float32', [1], []),
    top_k: tensor('int64', [1], []),
    top_p: tensor('float32', [1], []),
    repetition_penalty: tensor('float32', [1], []),
  });
  const next = nextDecodeState(out);
  return {
    state: next,
    logits: next.logits.data as Float32Array,
    latentRow: decodeOutput(out, 'latents').data as Float32Array,
  };
}

export async function compareVariants(refDir: string, varDir: string, o: AgreementOptions): Promise<Agreement> {
  const steps = o.steps ?? 40;
  const freeSteps = o.freeSteps ?? 50;
  const sentences = o.sentences ?? AGREEMENT_SENTENCES;
  const common: XttsOptions = {
    ...(o.device ? { device: o.device } : {}),
    ...(o.intraOpThreads ? { intraOpThreads: o.intraOpThreads } : {}),
    hifiganBuckets: null,
    warmUp: false,
  };
  const ref = await Xtts.load(refDir, { ...common, precision: o.reference });
  const v = await Xtts.load(varDir, {
    ...common,
    precision: o.variant,
    ...(o.variantVocoder ? { vocoderPrecision: o.variantVocoder } : {}),
  });
  try {
    const clip = readFileSync(join(resolve(import.meta.dirname, '..', '..'), 'test', 'fixtures', 'tiny', 'ref.wav'));
    // One voice for both: the conditioning graphs are the same fp32 graphs in both packages.
    const voice = await ref.computeVoice([clip]);
    const width = ref.pkg.manifest.model.config.gpt_n_model_channels;
    let agree = 0;
    let total = 0;
    const maxRel: number[] = [];
    const rmsRel: number[] = [];
    const maxAbs: number[] = [];
    const firstDivergence: (number | null)[] = [];
    const mcd: number[] = [];
    const spkCos: number[] = [];
    const ownVocoder = v.pkg.vocoder !== ref.pkg.vocoder;
    const voc = { mcd: [] as number[], cos: [] as number[], servedMcd: [] as number[], servedCos: [] as number[] };
    const rp = ref.params({}).repetitionPenalty;
    for (const s of sentences) {
      const ids = ref.sentenceIds(s.text, s.language)[0] as number[];
      // Teacher-forced on fp32's greedy path.
      const a = await ref.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
      const b = await v.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
      let sa = a.cache.feeds();
      let sb = b.cache.feeds();
      let la = a.logits;
      let lb = b.logits;
      const latA = new Float32Array(steps * width);
      const latB = new Float32Array(steps * width);
      for (let t = 0; t < steps; t++) {
        const code = argmax(la);
        if (argmax(lb) === code) agree++;
        total++;
        const diff = la.map((x, i) => x - (lb[i] as number));
        const scale = rms(la) || 1;
        const worst = diff.reduce((m, d) => Math.max(m, Math.abs(d)), 0);
        maxAbs.push(worst);
        maxRel.push(worst / scale);
        rmsRel.push(rms(diff) / scale);
        const na = await forcedStep(ref, sa, code);
        const nb = await forcedStep(v, sb, code);
        latA.set(na.latentRow.subarray(0, width), t * width);
        latB.set(nb.latentRow.subarray(0, width), t * width);
        sa = na.state;
        sb = nb.state;
        la = na.logits;
        lb = nb.logits;
      }
      a.cache.dispose();
      b.cache.dispose();
      // The same codes rendered from each variant's latents, with one speaker and one HiFi-GAN.
      const wa = await ref.hifigan.decode(latA, steps, width, voice.speakerEmbedding);
      const wb = await ref.hifigan.decode(latB, steps, width, voice.speakerEmbedding);
      mcd.push(melCepstralDistance(wa, wb));
      const toRef = (w: Float32Array) => resample(w, ref.sampleRate, CONDITIONING_MEL.sampleRate);
      const embA = await speakerEmbedding(ref.pkg, toRef(wa));
      spkCos.push(cosine(embA, await speakerEmbedding(ref.pkg, toRef(wb))));
      if (ownVocoder) {
        const wv = await v.hifigan.decode(latA, steps, width, voice.speakerEmbedding);
        const ws = await v.hifigan.decode(latB, steps, width, voice.speakerEmbedding);
        voc.mcd.push(melCepstralDistance(wa, wv));
        voc.cos.push(cosine(embA, await speakerEmbedding(ref.pkg, toRef(wv))));
        voc.servedMcd.push(melCepstralDistance(wa, ws));
        voc.servedCos.push(cosine(embA, await speakerEmbedding(ref.pkg, toRef(ws))));
      }
      // Free-running greedy decoding of each.
      const fa = await ref.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
      const fb = await v.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ids);
      const ca = (await ref.gpt.decode(fa.cache, new Float32Array(freeSteps).fill(0.5), greedy(rp))).codes;
      const cb = (await v.gpt.decode(fb.cache, new Float32Array(freeSteps).fill(0.5), greedy(rp))).codes;
      fa.cache.dispose();
      fb.cache.dispose();
      const n = Math.max(ca.length, cb.length);
      let first: number | null = null;
      for (let i = 0; i < n; i++) {
        if (ca[i] !== cb[i]) {
          first = i;
          break;
        }
      }
      firstDivergence.push(first);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const r: Omit<Agreement, 'summary'> = {
      reference: o.reference,
      variant: o.variant,
      sentences: sentences.length,
      steps: total,
      top1Agreement: agree / total,
      logitMaxRelErr: median(maxRel),
      logitRmsRelErr: median(rmsRel),
      logitMaxAbsErrMedian: median(maxAbs),
      logitMaxAbsErr: maxAbs.reduce((m, x) => Math.max(m, x), 0),
      firstDivergence,
      freeSteps,
      identicalFreeRuns: firstDivergence.filter((d) => d === null).length,
      melCepstralDistanceDb: mean(mcd),
      speakerCosine: mean(spkCos),
      ...(ownVocoder
        ? {
            vocoder: {
              graph: v.pkg.vocoder,
              vocoderMcdDb: mean(voc.mcd),
              vocoderSpeakerCosine: mean(voc.cos),
              servedMcdDb: mean(voc.servedMcd),
              servedSpeakerCosine: mean(voc.servedCos),
            },
          }
        : {}),
    };
    const diverged = firstDivergence.filter((d): d is number => d !== null);
    return {
      ...r,
      summary:
        `top-1 agreement ${(100 * r.top1Agreement).toFixed(1)}% over ${total} teacher-forced steps (${sentences.length} sentences), ` +
        `logit error median max ${r.logitMaxRelErr.toFixed(4)} / RMS ${r.logitRmsRelErr.toFixed(4)} of fp32's logit RMS; ` +
        `greedy runs identical for ${freeSteps} codes in ${r.identicalFreeRuns}/${sentences.length}` +
        (diverged.length ? ` (others diverge at step ${diverged.join(', ')})` : '') +
        `; same codes rendered: mel-cepstral distance ${r.melCepstralDistanceDb.toFixed(3)} dB, speaker cosine ${r.speakerCosine.toFixed(4)}` +
        (r.vocoder
          ? `; ${r.vocoder.graph} over fp32's latents: ${r.vocoder.vocoderMcdDb.toFixed(3)} dB, cosine ${r.vocoder.vocoderSpeakerCosine.toFixed(4)}` +
            `; as served (its GPT and ${r.vocoder.graph}): ${r.vocoder.servedMcdDb.toFixed(3)} dB, cosine ${r.vocoder.servedSpeakerCosine.toFixed(4)}`
          : ''),
    };
  } finally {
    await ref.release();
    await v.release();
  }
}
