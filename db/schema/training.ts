import { sql } from 'drizzle-orm';
import { bigserial, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './common.ts';
import { datasets } from './datasets.ts';

export const runStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const trainingRuns = pgTable('training_runs', {
  id: uuid('id').primaryKey().defaultRandom(),
  datasetId: uuid('dataset_id')
    .notNull()
    .references(() => datasets.id, { onDelete: 'restrict' }),
  /** The model package the run fine-tunes (its GPT) and shares the other graphs with. */
  basePackage: text('base_package').notNull(),
  /** The full training config, defaults filled in, as the worker received it. */
  config: jsonb('config').$type<Record<string, unknown>>().notNull(),
  status: text('status', { enum: runStatuses }).notNull().default('queued'),
  error: text('error'),
  createdAt: createdAt(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
});

export const jobStatuses = ['queued', 'running', 'done', 'failed'] as const;

/**
 * The job queue. Workers claim with `FOR UPDATE SKIP LOCKED`; a claim whose lease ran out
 * (a crashed worker) is claimable again, and the job resumes from its last checkpoint.
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
    lastError: text('last_error'),
    createdAt: createdAt(),
  },
  // Only claimable rows are indexed: finished jobs pile up and must not slow the claim.
  (t) => [index('jobs_claim_idx').on(t.runAt).where(sql`status in ('queued', 'running')`)],
);
