import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openHostSession } from '../native/host-session.ts';
import { openSession } from '../runtime/index.ts';
import { MANIFEST_FILE, readManifestJson } from './manifest.ts';

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
