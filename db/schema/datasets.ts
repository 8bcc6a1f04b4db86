import { index, integer, jsonb, pgTable, real, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, updatedAt } from './common.ts';

export const datasetStatuses = ['uploading', 'processing', 'ready', 'failed'] as const;

export const datasets = pgTable('datasets', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  language: text('language').notNull(),
  status: text('status', { enum: datasetStatuses }).notNull().default('uploading'),
  /** Where the LJSpeech-style folder (wavs/ + metadata.csv) lives. */
  path: text('path'),
  /** Build report: durations, rejected clips and why, split sizes. */
  report: jsonb('report').$type<Record<string, unknown>>(),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const datasetSplits = ['train', 'eval'] as const;

export const datasetClips = pgTable(
  'dataset_clips',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    path: text('path').notNull(),
    text: text('text').notNull(),
    durationS: real('duration_s').notNull(),
    sampleRate: integer('sample_rate').notNull(),
    split: text('split', { enum: datasetSplits }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('dataset_clips_dataset_idx').on(t.datasetId, t.split)],
);
