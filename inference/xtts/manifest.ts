/**
 * The model package's manifest.json (written by trainer/xtts/export.py), validated with zod.
 * Unknown keys are kept: a newer exporter may add fields without a format-version bump, and
 * only a change to what is here needs a new `format_version`.
 */
import { z } from 'zod';

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
  precision: z.enum(['fp32', 'fp16', 'int8']).optional(),
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
