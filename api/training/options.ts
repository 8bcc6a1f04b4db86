/**
 * A training run's options: Coqui's XTTS-v2 GPT recipe as defaults (trainer/finetune/spec.py
 * holds the same names), plus what happens to the checkpoints afterwards (`listening_test`,
 * read by the job worker, not by the trainer).
 */
import { z } from '@hono/zod-openapi';
import { PromotionPolicyInput, Seed } from '../validation.ts';

const count = z.number().int().min(0).max(200);

const share = z.number().min(0).max(1);
export const PrescreenOptions = z
  .strictObject({
    enabled: z.boolean().default(true),
    asr: z
      .strictObject({
        model: z.string().min(1).max(500).optional(),
        device: z.enum(['auto', 'cpu', 'cuda']).optional(),
        beam_size: z.number().int().min(1).max(20).optional(),
      })
      .optional()
      .openapi({ description: "faster-whisper settings; the dataset's transcription model by default" }),
    policy: z
      .strictObject({
        cer_margin: share.optional(),
        silent_share: share.optional(),
        end_fault_margin: share.optional(),
        missing_final_margin: share.optional(),
        too_long_ratio: z.number().min(1).max(10).optional(),
        too_short_ratio: share.optional(),
        relative_duration: z.number().min(1).max(10).optional(),
        speaker_margin: z.number().min(0).max(2).optional(),
        top_k: z.number().int().min(0).max(100).optional(),
        reference_cer_max: share.optional(),
      })
      .optional(),
  })
  .openapi('PrescreenOptions');

export const ListeningTestOptions = z
  .strictObject({
    auto_create: z.boolean().default(true),
    auto_promote: z.boolean().default(false),
    every_epochs: z.number().int().min(1).max(1000).optional().openapi({
      description: 'Also open a test every K epochs while training goes on, with the checkpoints so far',
    }),
    sentences: z
      .array(z.strictObject({ text: z.string().trim().min(1).max(400), seed: Seed.optional() }))
      .min(1)
      .max(200)
      .optional(),
    trials_per_rater: z
      .strictObject({
        ab_naturalness: count.optional(),
        ab_similarity: count.optional(),
        mos: count.optional(),
        similarity: count.optional(),
      })
      .optional(),
    promotion_policy: PromotionPolicyInput.optional().openapi({
      description: "The promotion rule's evidence thresholds; the listening defaults when left out",
    }),
    prescreen: PrescreenOptions.optional().openapi({
      description:
        'The objective pre-screen before listeners (on unless enabled is false); README, "Machines listen first"',
    }),
  })
  .openapi('RunListeningTestOptions');

export const TrainingOptions = z
  .strictObject({
    lr: z.number().gt(0).max(1).default(5e-6),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.96]),
    eps: z.number().gt(0).max(1).default(1e-8),
    weight_decay: z.number().min(0).max(1).default(0.01),
    batch_size: z.number().int().min(1).max(512).default(3),
    grad_accum: z.number().int().min(1).max(10_000).default(84),
    epochs: z.number().int().min(1).max(10_000).default(10),
    save_every_steps: z.number().int().min(0).default(0).openapi({ description: '0: a checkpoint per epoch only' }),
    max_wav_length: z.number().int().min(1).default(255995).openapi({ description: 'In samples at 22.05 kHz' }),
    max_text_tokens: z.number().int().min(1).max(10_000).default(200),
    seed: Seed.default(0),
    precision: z.enum(['fp32', 'bf16', 'fp16']).default('fp32'),
    gradient_checkpointing: z.boolean().default(false),
    prompt_masking: z.enum(['coqui', 'intended', 'off']).default('coqui').openapi({
      description:
        "coqui: Coqui's recipe as written (what every published XTTS-v2 fine-tune trained with); intended: the per-item masking its comments describe; off: no masking",
    }),
    device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    milestones: z.array(z.number().int().min(1)).max(100).default([900000, 2700000, 5400000]),
    gamma: z.number().gt(0).max(1).default(0.5),
    listening_test: ListeningTestOptions.default(ListeningTestOptions.parse({})),
  })
  .openapi('TrainingOptions');
