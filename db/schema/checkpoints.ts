import { index, integer, jsonb, pgTable, real, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './common.ts';
import { trainingRuns } from './training.ts';

export const checkpointStatuses = ['exporting', 'ready', 'failed'] as const;
/** From the package manifest: a base model, or a fine-tuned GPT that shares a base's other graphs. */
export const checkpointKinds = ['base', 'fine-tuned'] as const;

/**
 * A checkpoint is a model package: the base model (no run) or one step of a training run,
 * whose package holds only its GPT graphs and names the base package for the rest.
 */
export const checkpoints = pgTable(
  'checkpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id').references(() => trainingRuns.id, { onDelete: 'set null' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: checkpointKinds }).notNull().default('fine-tuned'),
    epoch: integer('epoch'),
    step: integer('step'),
    trainLoss: real('train_loss'),
    evalLoss: real('eval_loss'),
    /** The training config the checkpoint was made with (a copy, so it outlives its run). */
    trainingConfig: jsonb('training_config').$type<Record<string, unknown>>(),
    packagePath: text('package_path'),
    /** sha256 of the package manifest: the key of cached conditioning latents. */
    packageKey: text('package_key'),
    status: text('status', { enum: checkpointStatuses }).notNull().default('exporting'),
    error: text('error'),
    createdAt: createdAt(),
  },
  (t) => [index('checkpoints_run_idx').on(t.runId, t.step)],
);
