/**
 * fp16 GPT graphs (or, with --variant int8 or int4 and --device cpu, that CPU variant) against fp32 on a CUDA host, at full width: the logit error (teacher-forced on
 * fp32's greedy codes) and how often free-running greedy codes diverge, over 100 sentences, printed
 * as a table (agreement.ts does the measuring).
 *
 *   node inference/bench/fp16-report.ts PACKAGE_DIR [--device cuda|cpu] [--variant fp16|int8|int4] [--sentences 100]
 *                                       [--vocoder fp32|int8]
 *                                       [--steps 40] [--free-steps 100] [--json OUT.json]
 *
 * PACKAGE_DIR: a full-width package with both fp32 and fp16 GPT graphs, e.g. (from the repository
 * root, on the CUDA host) `PYTHONPATH=trainer python3 -m xtts.fixtures.tiny full /tmp/xtts-full-model` then
 * `PYTHONPATH=trainer python3 -m xtts.export /tmp/xtts-full-model /tmp/xtts-full-pkg --device cuda`,
 * or the bench's `.data/bench/full-pkg`. Runs on plain node with onnxruntime-node 1.29.0 and its CUDA
 * execution-provider libraries beside libonnxruntime.so. Run it with NVIDIA_TF32_OVERRIDE=0, so fp32
 * on CUDA is reference-exact and the figures are fp16's own. Greedy runs use the package's repetition
 * penalty. Sentences: those of test/fixtures/coqui-text of 20-160 characters in en, es, fr, de, it,
 * pt, nl and pl, taken in turn per language.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compareVariants } from './agreement.ts';

const root = resolve(import.meta.dirname, '..', '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cuda' },
    sentences: { type: 'string', default: '100' },
    steps: { type: 'string', default: '40' },
    'free-steps': { type: 'string', default: '100' },
    json: { type: 'string' },
    variant: { type: 'string', default: 'fp16' },
    /** int8: the variant renders with the package's int8 HiFi-GAN (hifigan_int8), measured too. */
    vocoder: { type: 'string', default: 'fp32' },
  },
});
const pkg = positionals[0];
if (!pkg) {
  console.error(
    'usage: node inference/bench/fp16-report.ts PACKAGE_DIR [--device cuda|cpu] [--variant fp16|int8|int4] [--vocoder fp32|int8] [--sentences N] [--json OUT]',
  );
  process.exit(2);
}
const device = args.device === 'cpu' ? 'cpu' : 'cuda';
if (device === 'cuda') {
  console.error('note: fp32 on CUDA is the exact reference only with NVIDIA_TF32_OVERRIDE=0 in the environment');
}
const count = Number(args.sentences);
const variant = args.variant === 'int8' || args.variant === 'int4' ? args.variant : 'fp16';

type Entry = { lang: string; category: string; text: string; error?: string };
const entries = (
  JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'coqui-text', 'reference.json'), 'utf8')) as {
    entries: Entry[];
  }
).entries;
const langs = ['en', 'es', 'fr', 'de', 'it', 'pt', 'nl', 'pl'];
const pool = entries.filter((e) => langs.includes(e.lang) && !e.error && e.text.length >= 20 && e.text.length <= 160);
// Round-robin over the languages, in the fixture's order, until `count` sentences.
const byLang = langs.map((l) => pool.filter((e) => e.lang === l));
const sentences: { language: string; text: string }[] = [];
for (let i = 0; sentences.length < count && byLang.some((q) => i < q.length); i++) {
  for (const q of byLang) {
    const e = q[i];
    if (e && sentences.length < count) sentences.push({ language: e.lang, text: e.text });
  }
}

const t0 = performance.now();
const a = await compareVariants(pkg, pkg, {
  device,
  reference: 'fp32',
  variant,
  ...(args.vocoder === 'int8' ? { variantVocoder: 'int8' as const } : {}),
  steps: Number(args.steps),
  freeSteps: Number(args['free-steps']),
  sentences,
});
const seconds = (performance.now() - t0) / 1000;
const diverged = a.firstDivergence.filter((d): d is number => d !== null).sort((x, y) => x - y);
const q = (p: number) =>
  diverged.length ? diverged[Math.min(diverged.length - 1, Math.floor(p * diverged.length))] : '–';
const rows: [string, string][] = [
  ['package', pkg],
  ['device', device],
  ['sentences', String(a.sentences)],
  ['teacher-forced steps', String(a.steps)],
  ['top-1 agreement (teacher-forced)', `${(100 * a.top1Agreement).toFixed(2)} %`],
  [
    'max |Δlogit|, median over steps / largest',
    `${a.logitMaxAbsErrMedian.toExponential(2)} / ${a.logitMaxAbsErr.toExponential(2)}`,
  ],
  ['largest abs Δlogit / RMS of fp32 logits, median', a.logitMaxRelErr.toFixed(4)],
  ['RMS of Δlogit / RMS of fp32 logits, median', a.logitRmsRelErr.toFixed(4)],
  [`greedy codes identical for ${a.freeSteps} codes`, `${a.identicalFreeRuns} of ${a.sentences}`],
  ['diverging runs: first differing step, min / median / max', `${q(0)} / ${q(0.5)} / ${diverged.at(-1) ?? '–'}`],
  ['same codes rendered: mel-cepstral distance', `${a.melCepstralDistanceDb.toFixed(3)} dB`],
  ['same codes rendered: speaker cosine', a.speakerCosine.toFixed(4)],
  ...((a.vocoder
    ? [
        [`${a.vocoder.graph} over fp32's latents: mel-cepstral distance`, `${a.vocoder.vocoderMcdDb.toFixed(3)} dB`],
        [`${a.vocoder.graph} over fp32's latents: speaker cosine`, a.vocoder.vocoderSpeakerCosine.toFixed(4)],
        [
          `as served (${variant} GPT, ${a.vocoder.graph}): mel-cepstral distance`,
          `${a.vocoder.servedMcdDb.toFixed(3)} dB`,
        ],
        ['as served: speaker cosine', a.vocoder.servedSpeakerCosine.toFixed(4)],
      ]
    : []) as [string, string][]),
  ['wall time', `${seconds.toFixed(0)} s`],
];
console.log(`| ${variant} GPT graphs against fp32 | |\n| --- | --- |`);
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
if (args.json) writeFileSync(args.json, `${JSON.stringify({ ...a, device, package: pkg, seconds }, null, 1)}\n`);
