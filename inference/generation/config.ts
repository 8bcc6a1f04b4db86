/**
 * The GPT sampling configuration, defaulting to the inference block of the released
 * XTTS-v2 config.json (not the XttsConfig class defaults, which are v1 values).
 */
import { z } from 'zod';

/**
 * The sampling defaults, written down once: XTTS-v2's released config.json. A model package
 * carries its own in its manifest (the exporter copies them from the model's config.json); the
 * engine fills a request's unset parameters from the package (Xtts.params), the API documents
 * these values, and listening-test stimuli set none but the seed.
 */
export const SAMPLING_DEFAULTS = Object.freeze({
  temperature: 0.75,
  /** Beam-search only in the reference; no effect on sampling (see beamScore). */
  length_penalty: 1.0,
  repetition_penalty: 5.0,
  top_k: 50,
  top_p: 0.85,
});

/** Greedy decoding as the GPT graph defines it: top-k 1 (the repetition penalty still applies). */
export const GREEDY = Object.freeze({ temperature: 1, top_k: 1, top_p: 1 });

export const GenerationConfigSchema = z
  .object({
    temperature: z.number().positive().default(SAMPLING_DEFAULTS.temperature),
    length_penalty: z.number().default(SAMPLING_DEFAULTS.length_penalty),
    repetition_penalty: z.number().positive().default(SAMPLING_DEFAULTS.repetition_penalty),
    top_k: z.number().int().nonnegative().default(SAMPLING_DEFAULTS.top_k),
    top_p: z.number().gt(0).lte(1).default(SAMPLING_DEFAULTS.top_p),
    do_sample: z.boolean().default(true),
    /** Only single-beam decoding exists here, as in XTTS inference. */
    num_beams: z.literal(1).default(1),
    /** 605 max audio tokens − 1 − 2 (`max_gen_mel_tokens`). */
    max_new_tokens: z.number().int().positive().max(602).default(602),
    start_audio_token: z.number().int().nonnegative().default(1024),
    stop_audio_token: z.number().int().nonnegative().default(1025),
    seed: z.number().int().safe().default(0),
    /**
     * Stop runaway generations that the reference would let run to the length limit.
     * Off by default: with it on, output can differ from the reference.
     */
    babble_guard: z
      .object({
        /** Stop after this many identical codes in a row. */
        max_repeat_run: z.number().int().min(2).default(40),
        /** Stop after this many codes per input text token (≈ seconds of audio per text). */
        max_codes_per_text_token: z.number().positive().default(12),
      })
      .nullable()
      .default(null),
  })
  .strict();

export type GenerationConfig = z.infer<typeof GenerationConfigSchema>;
export type GenerationConfigInput = z.input<typeof GenerationConfigSchema>;

export function generationConfig(input: GenerationConfigInput = {}): GenerationConfig {
  return GenerationConfigSchema.parse(input);
}
