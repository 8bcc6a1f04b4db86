import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSession } from '../runtime/index.ts';
import type { DecodeSettings } from './gpt.ts';
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
  const session = await openSession(join(dir, file));
  const manifest = (await readManifestJson(dir)).json as {
    graphs: Record<string, unknown>;
    files: Record<string, unknown>;
  };
  manifest.graphs[graph] = { file, inputs: session.inputs, outputs: session.outputs, precision: 'fp32' };
  manifest.files[file] = { sha256: createHash('sha256').update(onnx).digest('hex'), bytes: onnx.length };
  await session.release();
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

/** The sentences the batched-decode tests run through the tiny model, one sequence each. */
export const TINY_SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'It was a bright cold day in April.',
  'Hello, world! This is a test.',
  'She sells sea shells by the sea shore.',
] as const;

/** A sampling setting for each of those sequences: sampled, greedy with a penalty, and in between. */
export const TINY_SETTINGS: readonly DecodeSettings[] = [
  { temperature: 0.8, topK: 50, topP: 0.85, repetitionPenalty: 2 },
  { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 5 },
  { temperature: 1.1, topK: 20, topP: 0.95, repetitionPenalty: 1 },
  { temperature: 0.7, topK: 0, topP: 0.8, repetitionPenalty: 3 },
];

/** TINY_SENTENCES as text ids (the first piece of each) for a model's tokenizer. */
export function tinySentenceIds(x: { sentenceIds(text: string, language: string): number[][] }): number[][] {
  return TINY_SENTENCES.map((text) => x.sentenceIds(text, 'en')[0] as number[]);
}
