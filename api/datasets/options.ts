/**
 * The dataset build's options, mirroring trainer/dataset/options.py (same names, same
 * defaults), so that a bad value is refused at upload time with the field named instead of
 * failing the build minutes later. Unknown keys are refused, as the builder refuses them.
 */
import { z } from '@hono/zod-openapi';

/** The languages XTTS-v2 speaks. */
export const XTTS_LANGUAGES = [
  'en', 'es', 'fr', 'de', 'it', 'pt', 'pl', 'tr', 'ru', 'nl', 'cs', 'ar', 'zh-cn', 'hu', 'ko', 'ja', 'hi',
] as const; // biome-ignore format: one short list

export const chunkers = ['sentence', 'statistical'] as const;

const AsrOptions = z
  .strictObject({
    backend: z.enum(['faster-whisper', 'openai']).default('faster-whisper'),
    model: z
      .string()
      .min(1)
      .max(200)
      .default('large-v3')
      .openapi({ description: 'Whisper model (hub name or folder)' }),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    compute_type: z.string().min(1).max(40).default('default'),
    url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .openapi({ description: 'openai backend: base URL ending in /v1' }),
    api_key: z.string().min(1).max(500).optional(),
    beam_size: z.number().int().min(1).max(20).default(5),
    batch_size: z
      .number()
      .int()
      .min(0)
      .max(256)
      .default(0)
      .openapi({ description: 'windows transcribed at once; 0: 32 on CUDA, 1 on the CPU' }),
  })
  .refine((a) => a.backend !== 'openai' || a.url !== undefined, {
    message: 'url is required for the openai backend',
    path: ['url'],
  });

export const DatasetOptions = z
  .strictObject({
    target_dbfs: z.number().min(-60).max(0).default(-20),
    sample_rate: z.number().int().min(8000).max(48000).default(22050),
    min_s: z.number().gt(0).max(60).default(3),
    max_s: z.number().gt(0).max(60).default(11.6),
    max_chars: z.number().int().min(1).max(2000).default(250),
    cps_z: z.number().gt(0).max(20).default(2),
    eval_fraction: z.number().min(0).lt(1).default(0.02),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(0),
    recheck_wer: z.number().min(0).max(10).nullable().default(null),
    pad_s: z.number().min(0).max(2).default(0.2),
    long_silence_s: z.number().gt(0).max(60).default(2),
    peak_ceiling_dbfs: z.number().min(-30).max(0).default(-1),
    asr: AsrOptions.default(AsrOptions.parse({})),
  })
  .refine((o) => o.min_s < o.max_s, { message: 'min_s must be below max_s', path: ['min_s'] })
  .openapi('DatasetOptions');

export type DatasetOptions = z.infer<typeof DatasetOptions>;

/** The options as shown back: a transcription service's key is never echoed. */
export function publicOptions(options: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!options) return options;
  const asr = options.asr as Record<string, unknown> | undefined;
  return asr?.api_key ? { ...options, asr: { ...asr, api_key: '***' } } : options;
}
