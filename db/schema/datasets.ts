import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, real, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, updatedAt } from './common.ts';

/**
 * uploading: recordings arriving; queued: a build job waits; processing: a worker builds it;
 * ready: clips and LJSpeech files exist; failed: the build ended with `error` (nothing half-built
 * is kept: clips are written in the same transaction that marks the dataset ready).
 */
export const datasetStatuses = ['uploading', 'queued', 'processing', 'ready', 'failed'] as const;
export const datasetSources = ['recordings', 'ljspeech'] as const;
export const datasetChunkers = ['sentence', 'statistical'] as const;

export const datasets = pgTable('datasets', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  language: text('language').notNull(),
  status: text('status', { enum: datasetStatuses }).notNull().default('uploading'),
  source: text('source', { enum: datasetSources }).notNull().default('recordings'),
  chunker: text('chunker', { enum: datasetChunkers }),
  /** The build options, defaults filled in, as the worker received them. */
  options: jsonb('options').$type<Record<string, unknown>>(),
  /** The build job on the queue (jobs.id). */
  jobId: bigint('job_id', { mode: 'number' }),
  /** Latest progress of the build: stage, fraction, message. */
  progress: jsonb('progress').$type<Record<string, unknown>>(),
  /** Where the LJSpeech-style folder (wavs/ + metadata.csv) lives, relative to the storage root. */
  path: text('path'),
  /** Build report: durations, rejected clips and why, split sizes. */
  report: jsonb('report').$type<Record<string, unknown>>(),
  /** A stable error code and a message naming the file, when the build failed. */
  errorCode: text('error_code'),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** A long recording uploaded for a dataset, kept as uploaded. */
export const datasetRecordings = pgTable(
  'dataset_recordings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    /** The file name as uploaded. */
    name: text('name').notNull(),
    /** Storage key of the original bytes. */
    path: text('path').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    /** The owner's own transcript, aligned to the audio by the build instead of ASR text. */
    transcript: text('transcript'),
    createdAt: createdAt(),
  },
  (t) => [index('dataset_recordings_dataset_idx').on(t.datasetId)],
);

export const datasetSplits = ['train', 'eval'] as const;
/** kept and flagged clips are in the dataset; dropped ones are not (with their reasons). */
export const clipStatuses = ['kept', 'flagged', 'dropped'] as const;

export const datasetClips = pgTable(
  'dataset_clips',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasets.id, { onDelete: 'cascade' }),
    /** The clip's id in the LJSpeech folder (`wavs/<key>.wav`): unique per dataset. */
    clipKey: text('clip_key').notNull(),
    path: text('path').notNull(),
    recording: text('recording'),
    startS: real('start_s'),
    endS: real('end_s'),
    text: text('text').notNull(),
    normalizedText: text('normalized_text'),
    /** The text the build produced, kept when the owner edits `text`. */
    originalText: text('original_text'),
    durationS: real('duration_s').notNull(),
    sampleRate: integer('sample_rate').notNull(),
    cps: real('cps'),
    loudnessDbfs: real('loudness_dbfs'),
    peakDbfs: real('peak_dbfs'),
    wer: real('wer'),
    status: text('status', { enum: clipStatuses }).notNull().default('kept'),
    reasons: jsonb('reasons').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** The owner's override: true excludes a kept clip, false restores a dropped one; null follows status. */
    excluded: boolean('excluded'),
    split: text('split', { enum: datasetSplits }),
    createdAt: createdAt(),
  },
  (t) => [
    index('dataset_clips_dataset_idx').on(t.datasetId, t.split),
    uniqueIndex('dataset_clips_key_idx').on(t.datasetId, t.clipKey),
  ],
);
