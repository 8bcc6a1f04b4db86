/**
 * Fidelity with Coqui's own XTTS-v2 classes, from wave bytes in to audio out through this engine.
 *
 * test/fixtures/coqui-model/reference.json holds what coqui-tts (pinned there, with its package
 * versions) computed for seeded random weights at full width and at a small width: conditioning
 * latents and speaker embedding from the clip, first-step logits, 50 greedy codes at repetition
 * penalty 1, 5 and 10, and the waveforms (`npm run reference:model` regenerates it). Here the same
 * weights (trainer/xtts/parity/seeded_weights.py, drawn from seed, name and shape) go through the
 * project's PyTorch modules and exporter into a model package, and the engine runs it.
 *
 * Cases: `small` (40 channels, 2 layers), `wide` (the released model's width and heads, 1024 channels
 * and 16, at 4 of its 30 layers: every shape the released model has, with an export of seconds) and
 * `full` (the released size, 30 layers: minutes of export and decode on a small machine, so it runs on
 * demand, `FIDELITY_FULL=1 node --test inference/xtts/fidelity.test.ts`, or `npm run test:fidelity-full`).
 *
 * Exported packages are cached under node_modules/.cache/xtts-fidelity, keyed by the case, the
 * fixture and every trainer/xtts source file, so an export runs again only when one of them changes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { hashTrainerXttsSources } from '../../test/helpers/trainer-sources.ts';
import { runPython } from '../../trainer/index.ts';
import { greedy } from './gpt.ts';
import { Xtts } from './xtts.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

const fixture = join(repoRoot, 'test', 'fixtures', 'coqui-model');

type F32Ref = { file: string; shape: number[]; max_abs: number };
type Case = {
  seed: number;
  model_args: Record<string, unknown>;
  text_ids: number[];
  cond_latent: F32Ref;
  speaker: F32Ref;
  logits0: F32Ref;
  greedy: { repetition_penalty: number; codes: number[]; wav24k: F32Ref }[];
};
const reference = JSON.parse(readFileSync(join(fixture, 'reference.json'), 'utf8')) as {
  versions: Record<string, string>;
  clip: { path: string; sha256: string };
  vocab_sha256: string;
  text: string;
  language: string;
  steps: number;
  group_norm_groups: [number, number][];
  cases: Record<string, Case>;
};

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function f32(caseName: string, r: F32Ref): Float32Array {
  const b = readFileSync(join(fixture, caseName, r.file));
  const a = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  assert.equal(
    a.length,
    r.shape.reduce((x, y) => x * y, 1),
    `${caseName}/${r.file}: size`,
  );
  return a;
}

/** What the exported package depends on: the case, the fixture's vocabulary and the trainer's modules and exporter. */
function packageKey(caseName: string): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({ caseName, case: reference.cases[caseName]?.model_args, seed: reference.cases[caseName]?.seed }),
  );
  h.update(readFileSync(join(fixture, 'vocab.json')));
  return hashTrainerXttsSources(h).digest('hex').slice(0, 16);
}

async function ensurePackage(caseName: string): Promise<string> {
  const cache = join(repoRoot, 'node_modules', '.cache', 'xtts-fidelity');
  const pkg = join(cache, `${caseName}-${packageKey(caseName)}`);
  if (existsSync(join(pkg, 'manifest.json'))) return pkg;
  mkdirSync(cache, { recursive: true });
  for (const old of readdirSync(cache).filter((n) => n.startsWith(`${caseName}-`))) {
    rmSync(join(cache, old), { recursive: true, force: true });
  }
  const tmp = `${pkg}.building-${process.pid}`;
  const r = await runPython('xtts.parity.fidelity', ['package', fixture, caseName, tmp]);
  if (r.code !== 0) throw new Error(`xtts.parity.fidelity package ${caseName} failed:\n${r.stderr.slice(-4000)}`);
  renameSync(tmp, pkg);
  return pkg;
}

const clip = readFileSync(join(repoRoot, reference.clip.path));

// No database: once per CI run (the embedded pass), not again against PostgreSQL.
describe('fidelity with Coqui XTTS classes: inputs', { skip: EMBEDDED_PASS_ONLY }, () => {
  it('the clip and vocabulary are the ones the reference was computed from', () => {
    assert.equal(sha256(clip), reference.clip.sha256, `${reference.clip.path} changed since the reference was made`);
    assert.equal(sha256(readFileSync(join(fixture, 'vocab.json'))), reference.vocab_sha256);
    assert.ok(reference.versions['coqui-tts'], 'the fixture names the coqui-tts version it came from');
  });

  it("conditioning encoder GroupNorm: the group count of Coqui's normalization() at every width", async () => {
    const r = await runPython('xtts.parity.fidelity', ['groups']);
    assert.equal(r.code, 0, r.stderr);
    const mine = JSON.parse(r.stdout) as [number, number][];
    assert.ok(reference.group_norm_groups.length > 100);
    assert.deepEqual(mine, reference.group_norm_groups);
  });
});

const ON_DEMAND: Record<string, string> = {
  full: 'the released size (30 layers) runs with FIDELITY_FULL=1; the wide case checks its width and heads',
};

for (const [name, ref] of Object.entries(reference.cases)) {
  const width = ref.model_args.gpt_n_model_channels;
  const onDemand = process.env.FIDELITY_FULL === '1' ? false : ON_DEMAND[name];
  describe(`fidelity with Coqui XTTS classes: ${name} (${width} channels, ${ref.model_args.gpt_layers} layers)`, {
    skip: EMBEDDED_PASS_ONLY || onDemand || false,
  }, () => {
    let x: Xtts;
    before(async () => {
      x = await Xtts.load(await ensurePackage(name), { precision: 'fp32', maxAudioCodes: reference.steps });
    });
    after(() => x?.release());

    it('token ids of the sentence are the ones Coqui encoded', () => {
      assert.deepEqual(x.sentenceIds(reference.text, reference.language), [ref.text_ids]);
    });

    it('clip bytes → conditioning latents and speaker embedding within 1e-4; first-step logits within 1e-4', async (t) => {
      const voice = await x.computeVoice([clip]);
      assert.deepEqual(voice.gptCondShape, ref.cond_latent.shape);
      const condErr = maxAbsDiff(voice.gptCondLatent, f32(name, ref.cond_latent));
      const spkErr = maxAbsDiff(voice.speakerEmbedding, f32(name, ref.speaker));
      const { cache, logits } = await x.gpt.prefill(voice.gptCondLatent, voice.gptCondShape, ref.text_ids);
      cache.dispose();
      const logitsErr = maxAbsDiff(logits, f32(name, ref.logits0));
      t.diagnostic(`cond latent ${condErr}, speaker ${spkErr}, logits ${logitsErr} (max abs error)`);
      assert.ok(condErr <= 1e-4, `cond latent max abs error ${condErr}`);
      assert.ok(spkErr <= 1e-4, `speaker embedding max abs error ${spkErr}`);
      assert.ok(logitsErr <= 1e-4, `first-step logits max abs error ${logitsErr}`);
    });

    for (const run of ref.greedy) {
      it(`greedy at repetition penalty ${run.repetition_penalty}: ${reference.steps} codes identical, waveform within 1e-5`, async (t) => {
        const voice = await x.computeVoice([clip]);
        const r = await x.render({
          text: reference.text,
          language: reference.language,
          voice,
          params: { ...greedy(run.repetition_penalty), seed: 0, babbleGuard: false },
        });
        assert.equal(run.codes.length, reference.steps);
        assert.deepEqual(r.codes, [run.codes]);
        const err = maxAbsDiff(r.samples, f32(name, run.wav24k));
        t.diagnostic(`waveform max abs error ${err} (reference peak ${run.wav24k.max_abs})`);
        assert.ok(err <= 1e-5, `waveform max abs error ${err}`);
      });
    }
  });
}
