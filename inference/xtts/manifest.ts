/**
 * The model package's manifest.json (written by trainer/xtts/export/export.py), validated with zod,
 * and the one reader of it: the engine, voices/'s package registration and the benchmark all
 * read manifests through this module. Unknown keys are kept: a newer exporter may add fields
 * without a format-version bump, and only a change to what is here needs a new `format_version`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EngineError } from '../engine/types.ts';

export const SUPPORTED_FORMAT_VERSIONS = [1] as const;

const ValueInfo = z.object({
  name: z.string(),
  dtype: z.string(),
  shape: z.array(z.union([z.string(), z.number()])),
});

const Graph = z.looseObject({
  file: z.string(),
  inputs: z.array(ValueInfo),
  outputs: z.array(ValueInfo),
  precision: z.enum(['fp32', 'fp16', 'int8', 'int4']).optional(),
});

export const ManifestSchema = z.looseObject({
  format_version: z.number().int(),
  kind: z.enum(['base', 'fine-tuned']),
  model: z.looseObject({
    name: z.string(),
    config: z.looseObject({
      gpt_layers: z.number().int().positive(),
      gpt_n_model_channels: z.number().int().positive(),
      gpt_n_heads: z.number().int().positive(),
      gpt_num_audio_tokens: z.number().int().positive(),
      d_vector_dim: z.number().int().positive(),
      perceiver_latents: z.number().int().positive(),
    }),
  }),
  sample_rates: z.looseObject({
    conditioning: z.number().int().positive(),
    speaker_encoder: z.number().int().positive(),
    output: z.number().int().positive(),
  }),
  languages: z.array(z.string()),
  generation: z.looseObject({
    temperature: z.number(),
    length_penalty: z.number(),
    repetition_penalty: z.number(),
    top_k: z.number().int(),
    top_p: z.number(),
    gpt_cond_len: z.number(),
    gpt_cond_chunk_len: z.number(),
    max_ref_len: z.number(),
    sound_norm_refs: z.boolean(),
  }),
  tokens: z.looseObject({
    text_start: z.number().int(),
    text_stop: z.number().int(),
    audio_start: z.number().int(),
    audio_stop: z.number().int(),
    max_text_tokens: z.number().int(),
    max_audio_codes: z.number().int(),
  }),
  vocab: z.string(),
  mel_stats: z.string(),
  graphs: z.record(z.string(), Graph),
  files: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int() })),
  base: z
    .object({ path: z.string(), manifest_sha256: z.string().regex(/^[0-9a-f]{64}$/), graphs: z.array(z.string()) })
    .optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type GraphEntry = z.infer<typeof Graph>;

/** The manifest's file name inside a package folder. */
export const MANIFEST_FILE = 'manifest.json';

const manifestPath = (dir: string) => join(dir, MANIFEST_FILE);

/** Whether `dir` holds a model package (its manifest is there). */
export const hasManifest = (dir: string): boolean => existsSync(manifestPath(dir));

/**
 * A package's manifest as JSON, with its format version checked and nothing else: what a caller
 * that only needs the kind or languages relies on. `key` is the manifest's sha256, which cached
 * voice conditioning carries. Failures are EngineErrors: MODEL_NOT_FOUND, MODEL_CORRUPT,
 * MODEL_FORMAT_UNSUPPORTED.
 */
export async function readManifestJson(dir: string): Promise<{ json: Record<string, unknown>; key: string }> {
  const path = manifestPath(dir);
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch {
    const dirThere = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    throw new EngineError('MODEL_NOT_FOUND', dirThere ? `${dir}: no manifest.json` : `${dir}: no such model package`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', `${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    throw new EngineError('MODEL_CORRUPT', `${path}: not a JSON object`);
  }
  const version = (json as { format_version?: unknown }).format_version;
  if (!(SUPPORTED_FORMAT_VERSIONS as readonly unknown[]).includes(version)) {
    throw new EngineError(
      'MODEL_FORMAT_UNSUPPORTED',
      `${path}: format_version ${JSON.stringify(version)} is not one this engine reads (${SUPPORTED_FORMAT_VERSIONS.join(', ')})`,
    );
  }
  return { json: json as Record<string, unknown>, key: createHash('sha256').update(raw).digest('hex') };
}

/** The whole manifest, checked against its schema (MODEL_CORRUPT naming the first field at fault). */
export async function readManifest(dir: string): Promise<{ manifest: Manifest; key: string }> {
  const { json, key } = await readManifestJson(dir);
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new EngineError(
      'MODEL_CORRUPT',
      `${manifestPath(dir)}: ${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'}`,
    );
  }
  return { manifest: parsed.data, key };
}

/** For tools that run synchronously (the benchmark): the manifest as JSON, or undefined without one. */
export function peekManifest(dir: string): Record<string, unknown> | undefined {
  return hasManifest(dir)
    ? (JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as Record<string, unknown>)
    : undefined;
}
