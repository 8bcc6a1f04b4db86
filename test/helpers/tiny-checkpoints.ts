/**
 * Fine-tuned checkpoints of the tiny fixture, made the way a training run makes them: the
 * fixture's own PyTorch weights with only the GPT side changed, exported by the project's
 * exporter (`npm run model:import -- <folder> <out> --base <package>`) to GPT-only packages
 * that name the tiny package as their base. Made fresh in each run rather than committed: a
 * few seconds of CPU, and the exporter's check against PyTorch runs on every test run.
 *
 * The fixture's PyTorch folder itself (`xtts.fixtures.tiny tiny OUT --seed N`, the same bytes for
 * the same seed and sources) is built once and kept under node_modules/.cache/xtts-tiny-model,
 * keyed by the seed and every trainer/xtts source file: several test files start from it, and
 * each build is a Python process that imports torch.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childEnv } from '../../infra/index.ts';
import { pythonBinary, runPython } from '../../trainer/index.ts';
import { hashTrainerXttsSources } from './trainer-sources.ts';

const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

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
 * norm not a number, as a run whose loss became NaN leaves it. The same process then exports
 * the folder (the exporter's command line, run in-process), so torch is imported once per package.
 */
const PERTURB_GPT = `
import json, os, shutil, sys, torch
src, out, seed, scale, damage = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
# sys.argv[6], sys.argv[7]: the package to write and its base package.
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
if changed == 0:
    raise SystemExit(f"no GPT weights changed in {src}")
# Then what \`npm run model:import -- <folder> <out> --base <package>\` runs, in this same process
# (torch is imported once, not twice).
from xtts.export.export import main
sys.argv = ["python3 -m xtts.export", out, sys.argv[6], "--base", sys.argv[7]]
main()
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

/** The source files a tiny model folder is built from: the seed and every trainer/xtts module. */
function tinyModelKey(seed: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ kind: 'tiny', seed }));
  return hashTrainerXttsSources(h).digest('hex').slice(0, 16);
}

/**
 * The tiny model's PyTorch folder for `seed` (`python -m xtts.fixtures.tiny tiny OUT --seed
 * seed`), built on first use and cached (see the top of this file). Read it or copy it
 * (`copyTinyModelFolder`); never write into it.
 */
export async function tinyModelFolder(seed = TINY_FIXTURE_SEED): Promise<string> {
  const cache = join(repoRoot, 'node_modules', '.cache', 'xtts-tiny-model');
  const dir = join(cache, `seed${seed}-${tinyModelKey(seed)}`);
  if (existsSync(join(dir, 'model.pth'))) return dir;
  mkdirSync(cache, { recursive: true });
  // Folders of this seed from older sources; another process's unfinished build is left alone.
  for (const old of readdirSync(cache).filter((n) => n.startsWith(`seed${seed}-`) && !n.includes('.building-')))
    rmSync(join(cache, old), { recursive: true, force: true });
  const tmp = `${dir}.building-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const made = await runPython('xtts.fixtures.tiny', ['tiny', tmp, '--seed', String(seed)]);
  if (made.code !== 0) throw new Error(`xtts.fixtures.tiny failed: ${made.stderr}`);
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // A test file running alongside built the same folder first: the same bytes, keep theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, 'model.pth'))) throw e;
  }
  return dir;
}

/** A copy of the tiny model's PyTorch folder for `seed` at `dest` (which must not exist yet). */
export async function copyTinyModelFolder(dest: string, seed = TINY_FIXTURE_SEED): Promise<void> {
  cpSync(await tinyModelFolder(seed), dest, { recursive: true });
}

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
    const base = await tinyModelFolder();
    return await Promise.all(
      specs.map(async (spec) => {
        const folder = join(work, spec.name);
        const out = join(modelDir, spec.name);
        try {
          await run(
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
              out,
              baseDir,
            ],
            { cwd: repoRoot, env: childEnv({ PYTHONPATH: join(repoRoot, 'trainer'), NODE: process.execPath }) },
          );
        } catch (e) {
          const { stdout, stderr } = e as { stdout?: string; stderr?: string };
          throw new Error(`export of ${spec.name} failed: ${stdout ?? ''}${stderr ?? String(e)}`);
        }
        return out;
      }),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
