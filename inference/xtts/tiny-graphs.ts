import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHostSession } from '../native/host-session.ts';
import { openSession } from '../runtime/index.ts';
import { MANIFEST_FILE, readManifestJson } from './manifest.ts';
import { Xtts, type XttsOptions } from './xtts.ts';

/** The tiny test fixture (test/fixtures/tiny): its package and, in batch/, its batched and fixed-shape decode graphs. */
const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');

/**
 * Adds the fixture's graph `graph` (batch/<graph>.onnx, the package's weights) to the package at `dir`,
 * listed in its manifest as an exported one would be.
 * For the tests of the engine and the addon (inside inference/, which may use onnxruntime directly).
 */
export async function addTinyBatchGraph(dir: string, graph: string): Promise<void> {
  const file = `${graph}.onnx`;
  const onnx = readFileSync(join(fixtures, 'batch', file));
  writeFileSync(join(dir, file), onnx);
  // Its inputs and outputs as the manifest lists them; the steps on the addon's own operators
  // (gpt_step_static_xattn*) open through the addon only.
  const session = graph.includes('_xattn')
    ? openHostSession(join(dir, file), { threads: 1 })
    : await openSession(join(dir, file));
  const io = { inputs: session.inputs, outputs: session.outputs };
  await session.release();
  const manifest = (await readManifestJson(dir)).json as {
    graphs: Record<string, unknown>;
    files: Record<string, unknown>;
  };
  manifest.graphs[graph] = { file, ...io, precision: 'fp32' };
  manifest.files[file] = { sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.length };
  writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
}

/**
 * A copy of the fixture's package in a new temporary folder with the fixture's `graphs` added
 * (addTinyBatchGraph): its path, and `remove()` for the folder.
 */
export async function tinyPackageWith(graphs: readonly string[]): Promise<{ dir: string; remove: () => void }> {
  const tmp = mkdtempSync(join(tmpdir(), 'xtts-tiny-graphs-'));
  const dir = join(tmp, 'pkg');
  cpSync(join(fixtures, 'package'), dir, { recursive: true });
  for (const g of graphs) await addTinyBatchGraph(dir, g);
  return { dir, remove: () => rmSync(tmp, { recursive: true, force: true }) };
}

/**
 * The fixture package's text tokens, and a prompt of `n` text ids between them ([START] ids [STOP], the ids
 * drawn from 5 to 54 by `seed`): what the device prefill tests feed.
 */
export async function tinyPrompts(): Promise<{
  start: number;
  stop: number;
  prompt: (n: number, seed: number) => number[];
}> {
  const { json } = await readManifestJson(join(fixtures, 'package'));
  const { text_start: start, text_stop: stop } = (json as { tokens: { text_start: number; text_stop: number } }).tokens;
  const prompt = (n: number, seed: number) => [
    start,
    ...Array.from({ length: n }, (_, i) => 5 + ((i * 7 + seed) % 50)),
    stop,
  ];
  return { start, stop, prompt };
}

/** The fixture's reference conditioning latents (reference/cond_latent.f32) with their shape. */
export function tinyCondLatent(): { data: Float32Array; shape: number[] } {
  const refDir = join(fixtures, 'reference');
  const reference = JSON.parse(readFileSync(join(refDir, 'reference.json'), 'utf8')) as {
    files: Record<string, { shape: number[] }>;
  };
  const b = readFileSync(join(refDir, 'cond_latent.f32'));
  return {
    data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
    shape: reference.files['cond_latent.f32']?.shape as number[],
  };
}

/** The texts concurrentStepCodes renders, one stream each. */
export const STEP_TEXTS = [
  'It was a bright cold day in April.',
  'The quick brown fox jumps over the lazy dog, twice.',
  'Four score and seven years ago.',
  'Hello there.',
] as const;

/**
 * The codes of `texts` rendered at once (seeds 7 + i) through the fixed-shape step on the package at `dir`
 * (a copy of the fixture's with its step graph added), each text's voice the fixture's conditioning scaled by
 * `scale(i)`, with `options` on top (a prefill variant): what the tests of prefill variants compare with
 * and without the variant. `inspect` sees the loaded engine after the renders, before it is released.
 */
export async function concurrentStepCodes(
  dir: string,
  texts: readonly string[],
  options: XttsOptions = {},
  scale: (i: number) => number = () => 1,
  inspect: (x: Xtts) => void = () => {},
): Promise<number[][][]> {
  const x = await Xtts.load(dir, {
    warmUp: false,
    batchedDecode: true,
    nativeBatch: true,
    decodeBatch: { maxBatch: texts.length },
    staticDecode: { slots: texts.length },
    maxAudioCodes: 40,
    ...options,
  });
  try {
    const c = x.pkg.manifest.model.config;
    const cond = tinyCondLatent();
    const codes = await Promise.all(
      texts.map(async (text, i) => {
        const voice = {
          packageKey: x.pkg.key,
          gptCondLatent: cond.data.map((v) => v * scale(i)),
          gptCondShape: cond.shape,
          speakerEmbedding: new Float32Array(c.d_vector_dim).fill(0.1),
          speakerShape: [1, c.d_vector_dim, 1],
        };
        return (await x.render({ text, language: 'en', voice, params: { seed: 7 + i } })).codes;
      }),
    );
    inspect(x);
    return codes;
  } finally {
    await x.release();
  }
}
