import { index, integer, pgTable, primaryKey, real, text, uuid } from 'drizzle-orm/pg-core';
import { checkpoints } from './checkpoints.ts';
import { bytea, createdAt, updatedAt } from './common.ts';

export const voices = pgTable('voices', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  language: text('language').notNull(),
  description: text('description'),
  /** The checkpoint synthesis uses: the base model at first, later the promoted one. */
  checkpointId: uuid('checkpoint_id').references(() => checkpoints.id, { onDelete: 'restrict' }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const voiceClips = pgTable(
  'voice_clips',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    voiceId: uuid('voice_id')
      .notNull()
      .references(() => voices.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    sha256: text('sha256').notNull(),
    durationS: real('duration_s').notNull(),
    sampleRate: integer('sample_rate').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('voice_clips_voice_idx').on(t.voiceId)],
);

/**
 * Conditioning latents and speaker embedding, computed once per (voice, model package).
 * Float32 little-endian bytes with their shapes, so a pod can use them without recomputing.
 */
export const voiceConditioning = pgTable(
  'voice_conditioning',
  {
    voiceId: uuid('voice_id')
      .notNull()
      .references(() => voices.id, { onDelete: 'cascade' }),
    packageKey: text('package_key').notNull(),
    gptCondLatent: bytea('gpt_cond_latent').notNull(),
    gptCondShape: integer('gpt_cond_shape').array().notNull(),
    speakerEmbedding: bytea('speaker_embedding').notNull(),
    speakerShape: integer('speaker_shape').array().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.voiceId, t.packageKey] })],
);
