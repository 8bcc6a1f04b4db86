import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const fixtures = new URL('../fixtures/tiny/', import.meta.url).pathname;

/** The tiny random-weight XTTS package (made by the project's exporter from a fixed seed). */
export const tinyPackageDir = join(fixtures, 'package');

/** The fixture's reference clip: espeak-ng speech, 22050 Hz. */
export const tinyReferenceClip = () => new Uint8Array(readFileSync(join(fixtures, 'ref.wav')));

/** A fresh DATA_DIR whose MODEL_DIR holds a copy of the tiny package named `name`. */
export function dataDirWithTinyModel(name = 'tiny'): { dataDir: string; modelDir: string; packageDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-e2e-'));
  const modelDir = join(dataDir, 'models');
  mkdirSync(modelDir, { recursive: true });
  cpSync(tinyPackageDir, join(modelDir, name), { recursive: true });
  return { dataDir, modelDir, packageDir: join(modelDir, name) };
}

/**
 * Adds the fixture's graph `graph` (batch/<graph>.onnx, the package's weights) to the package at `dir`,
 * listed in its manifest as an exported one would be. (onnxruntime is imported here only, not by the
 * files that take the other helpers.)
 */
export async function addTinyBatchGraph(dir: string, graph: string): Promise<void> {
  const { openSession } = await import('../../inference/runtime/index.ts');
  const file = `${graph}.onnx`;
  const onnx = readFileSync(join(fixtures, 'batch', file));
  writeFileSync(join(dir, file), onnx);
  const session = await openSession(join(dir, file));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  manifest.graphs[graph] = { file, inputs: session.inputs, outputs: session.outputs, precision: 'fp32' };
  manifest.files[file] = { sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.length };
  await session.release();
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}
