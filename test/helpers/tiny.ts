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

/** The sentences the batched-decode tests run through the tiny model, one sequence each. */
export const TINY_SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'It was a bright cold day in April.',
  'Hello, world! This is a test.',
  'She sells sea shells by the sea shore.',
] as const;

/** A sampling setting for each of those sequences: sampled, greedy with a penalty, and in between. */
export const TINY_SETTINGS: readonly { temperature: number; topK: number; topP: number; repetitionPenalty: number }[] =
  [
    { temperature: 0.8, topK: 50, topP: 0.85, repetitionPenalty: 2 },
    { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 5 },
    { temperature: 1.1, topK: 20, topP: 0.95, repetitionPenalty: 1 },
    { temperature: 0.7, topK: 0, topP: 0.8, repetitionPenalty: 3 },
  ];

/** TINY_SENTENCES as text ids (the first piece of each) for a model's tokenizer. */
export function tinySentenceIds(x: { sentenceIds(text: string, language: string): number[][] }): number[][] {
  return TINY_SENTENCES.map((text) => x.sentenceIds(text, 'en')[0] as number[]);
}
