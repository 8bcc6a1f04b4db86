import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
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
