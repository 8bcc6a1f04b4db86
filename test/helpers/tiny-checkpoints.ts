/**
 * Fine-tuned checkpoints of the tiny fixture, made the way a training run makes them: the
 * fixture's own PyTorch weights with only the GPT side changed, exported by the project's
 * exporter (`npm run model:import -- <folder> <out> --base <package>`) to GPT-only packages
 * that name the tiny package as their base. Made fresh in each run rather than committed: a
 * few seconds of CPU, and the exporter's check against PyTorch runs on every test run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childEnv } from '../../infra/index.ts';
import { pythonBinary, runPython } from '../../trainer/index.ts';

const run = promisify(execFile);

/** The seed trainer/xtts/fixtures/fixture.py builds test/fixtures/tiny/package from. */
export const TINY_FIXTURE_SEED = 1234;

/**
 * Copies a model folder, adding seeded noise (`scale` times each tensor's mean magnitude) to
 * every `gpt.*` weight: the conditioning encoder, perceiver and GPT, which is what fine-tuning
 * trains. HiFi-GAN, the speaker encoder, mel statistics and vocabulary stay as they are.
 * `stop_at_once` then damages the GPT the way a diverged run can: the bias of the audio head's
 * stop token (config `gpt_stop_audio_token`) is raised so far that the stop token wins the
 * first step, and the checkpoint speaks (almost) nothing. `nan_weights` makes the GPT's final
 * norm not a number, as a run whose loss became NaN leaves it.
 */
const PERTURB_GPT = `
import json, os, shutil, sys, torch
src, out, seed, scale, damage = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
shutil.copytree(src, out)
ckpt = torch.load(os.path.join(src, "model.pth"), map_location="cpu")
g = torch.Generator().manual_seed(seed)
state = ckpt["model"]
changed = 0
for k, v in state.items():
    if k.startswith("gpt.") and v.is_floating_point():
        state[k] = v + torch.randn(v.shape, generator=g) * scale * v.abs().mean()
        changed += 1
if damage == "stop_at_once":
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        stop = json.load(f)["model_args"]["gpt_stop_audio_token"]
    state["gpt.mel_head.bias"][stop] += 1e4
elif damage == "nan_weights":
    state["gpt.final_norm.bias"][:] = float("nan")
elif damage != "none":
    raise SystemExit(f"unknown damage {damage}")
torch.save(ckpt, os.path.join(out, "model.pth"))
print(changed)
`;

export type TinyCheckpointSpec = {
  name: string;
  seed: number;
  scale: number;
  /**
   * A deliberately broken checkpoint: `stop_at_once` makes the GPT end every sentence at its
   * first step, `nan_weights` puts NaN in its weights.
   */
  damage?: 'stop_at_once' | 'nan_weights';
};

/**
 * Writes one GPT-only package per spec to `modelDir/<name>`, each exported against the base
 * package at `baseDir`. Returns the package folders in the order of `specs`.
 */
export async function tinyFineTunedPackages(
  modelDir: string,
  baseDir: string,
  specs: readonly TinyCheckpointSpec[],
): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), 'tiny-finetune-'));
  try {
    const base = join(work, 'base');
    const made = await runPython('xtts.fixtures.tiny', ['tiny', base, '--seed', String(TINY_FIXTURE_SEED)]);
    if (made.code !== 0) throw new Error(`xtts.fixtures.tiny failed: ${made.stderr}`);
    return await Promise.all(
      specs.map(async (spec) => {
        const folder = join(work, spec.name);
        const { stdout } = await run(
          pythonBinary(),
          [
            '-W',
            'ignore',
            '-c',
            PERTURB_GPT,
            base,
            folder,
            String(spec.seed),
            String(spec.scale),
            spec.damage ?? 'none',
          ],
          { env: childEnv() },
        );
        if (!(Number(stdout.trim()) > 0)) throw new Error(`no GPT weights changed for ${spec.name}: ${stdout}`);
        const out = join(modelDir, spec.name);
        // What `npm run model:import -- <folder> <out> --base <package>` runs.
        const exported = await runPython('xtts.export', [folder, out, '--base', baseDir]);
        if (exported.code !== 0) throw new Error(`export of ${spec.name} failed: ${exported.stdout}${exported.stderr}`);
        return out;
      }),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
