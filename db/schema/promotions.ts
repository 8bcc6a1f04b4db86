import { index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { checkpoints } from './checkpoints.ts';
import { createdAt } from './common.ts';
import { listeningTests } from './listening.ts';
import { voices } from './voices.ts';

export const promotionActions = ['promote', 'rollback'] as const;

/** The audit trail: every change of a voice's checkpoint, with the numbers that justified it. */
export const promotions = pgTable(
  'promotions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    voiceId: uuid('voice_id')
      .notNull()
      .references(() => voices.id, { onDelete: 'cascade' }),
    action: text('action', { enum: promotionActions }).notNull(),
    fromCheckpointId: uuid('from_checkpoint_id').references(() => checkpoints.id, { onDelete: 'restrict' }),
    toCheckpointId: uuid('to_checkpoint_id')
      .notNull()
      .references(() => checkpoints.id, { onDelete: 'restrict' }),
    testId: uuid('test_id').references(() => listeningTests.id, { onDelete: 'set null' }),
    statistics: jsonb('statistics').$type<Record<string, unknown>>(),
    /** 'auto' for the rule, otherwise the admin key's name. */
    actor: text('actor').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('promotions_voice_idx').on(t.voiceId, t.createdAt)],
);
