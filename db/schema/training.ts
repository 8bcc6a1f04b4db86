import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, updatedAt } from './common.ts';
import { datasets } from './datasets.ts';

export const runStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const trainingRuns = pgTable('training_runs', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().default('run'),
  datasetId: uuid('dataset_id')
    .notNull()
    .references(() => datasets.id, { onDelete: 'restrict' }),
  /** The voice the run is for: its listening test and promotion (voices.id; no FK, a voice may go). */
  voiceId: uuid('voice_id'),
  /** The base checkpoint (checkpoints.id) whose package the run fine-tunes. */
  baseCheckpointId: uuid('base_checkpoint_id'),
  /** The model package the run fine-tunes (its GPT) and shares the other graphs with. */
  basePackage: text('base_package').notNull(),
  /** The full training config, defaults filled in, as the worker received it. */
  config: jsonb('config').$type<Record<string, unknown>>().notNull(),
  status: text('status', { enum: runStatuses }).notNull().default('queued'),
  /** Latest progress: step, epoch, losses, samples/s, GPU memory, ETA. */
  progress: jsonb('progress').$type<Record<string, unknown>>(),
  jobId: bigint('job_id', { mode: 'number' }),
  /** The listening test the run's checkpoints were put in (listening_tests.id). */
  listeningTestId: uuid('listening_test_id'),
  errorCode: text('error_code'),
  error: text('error'),
  createdAt: createdAt(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

export const metricKinds = ['train', 'eval'] as const;

/** One row per logged optimizer step (train) or evaluation (eval): the run page's loss curves. */
export const trainingMetrics = pgTable(
  'training_metrics',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id')
      .notNull()
      .references(() => trainingRuns.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: metricKinds }).notNull(),
    step: integer('step').notNull(),
    epoch: integer('epoch').notNull(),
    loss: real('loss'),
    lossText: real('loss_text'),
    lossMel: real('loss_mel'),
    lr: real('lr'),
    samplesPerS: real('samples_per_s'),
    gpuMemMb: real('gpu_mem_mb'),
    createdAt: createdAt(),
  },
  (t) => [index('training_metrics_run_idx').on(t.runId, t.kind, t.step)],
);

export const jobStatuses = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;

/**
 * The job queue. Workers claim with `FOR UPDATE SKIP LOCKED`; a claim whose lease ran out
 * (a crashed worker) is claimable again, and the job resumes from its last checkpoint.
 * `locked_by` is a fencing token, new at every claim: a worker that lost its lease can no
 * longer renew, report or complete the job.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: jobStatuses }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    lockedBy: text('locked_by'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    progress: jsonb('progress').$type<Record<string, unknown>>(),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  // Only claimable rows are indexed: finished jobs pile up and must not slow the claim.
  (t) => [index('jobs_claim_idx').on(t.runAt).where(sql`status in ('queued', 'running')`)],
);
