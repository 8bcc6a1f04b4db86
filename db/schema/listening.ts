import { index, integer, jsonb, pgTable, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { checkpoints } from './checkpoints.ts';
import { createdAt } from './common.ts';
import { voices } from './voices.ts';

export const testStatuses = ['draft', 'rendering', 'open', 'closed'] as const;
export const trialKinds = ['ab_naturalness', 'ab_similarity', 'mos', 'similarity'] as const;

export const listeningTests = pgTable('listening_tests', {
  id: uuid('id').primaryKey().defaultRandom(),
  voiceId: uuid('voice_id')
    .notNull()
    .references(() => voices.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  status: text('status', { enum: testStatuses }).notNull().default('draft'),
  kinds: jsonb('kinds').$type<(typeof trialKinds)[number][]>().notNull(),
  /** Sentences, seeds, trials per rater, quality-control and promotion settings. */
  config: jsonb('config').$type<Record<string, unknown>>().notNull(),
  createdAt: createdAt(),
  closedAt: timestamp('closed_at', { withTimezone: true }),
});

export const conditionKinds = ['checkpoint', 'base', 'real', 'degraded', 'trap'] as const;

/**
 * What is being compared: a checkpoint, or an anchor (base model, real or degraded recording).
 * 'trap' holds the spoken attention-check instructions, which are never compared.
 */
export const conditions = pgTable(
  'listening_conditions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    testId: uuid('test_id')
      .notNull()
      .references(() => listeningTests.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: conditionKinds }).notNull(),
    checkpointId: uuid('checkpoint_id').references(() => checkpoints.id, { onDelete: 'restrict' }),
    label: text('label').notNull(),
  },
  (t) => [index('conditions_test_idx').on(t.testId)],
);

/** One rendered clip, tied to everything needed to render it again bit for bit. */
export const stimuli = pgTable(
  'stimuli',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    testId: uuid('test_id')
      .notNull()
      .references(() => listeningTests.id, { onDelete: 'cascade' }),
    conditionId: uuid('condition_id')
      .notNull()
      .references(() => conditions.id, { onDelete: 'cascade' }),
    sentenceIndex: integer('sentence_index').notNull(),
    text: text('text').notNull(),
    seed: integer('seed').notNull(),
    audioPath: text('audio_path').notNull(),
    sha256: text('sha256').notNull(),
    durationS: real('duration_s').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('stimuli_condition_sentence_idx').on(t.conditionId, t.sentenceIndex)],
);

export const raters = pgTable(
  'raters',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    testId: uuid('test_id')
      .notNull()
      .references(() => listeningTests.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    /** A crowd platform's worker id, when the invitation carried one. */
    workerId: text('worker_id'),
    consentedAt: timestamp('consented_at', { withTimezone: true }),
    headphoneCheckPassedAt: timestamp('headphone_check_passed_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** Unguessable (100 random bits) and unique; redeemed once, when the owner checks it (redeemCompletionCode). */
    completionCode: text('completion_code').unique(),
    completionRedeemedAt: timestamp('completion_redeemed_at', { withTimezone: true }),
    /** Flagged raters keep their votes, which the statistics then leave out. */
    flaggedAt: timestamp('flagged_at', { withTimezone: true }),
    flagReason: text('flag_reason'),
    createdAt: createdAt(),
  },
  (t) => [index('raters_test_idx').on(t.testId)],
);

export const trialRoles = ['normal', 'gold', 'trap'] as const;

export const trials = pgTable(
  'trials',
  {
    /** Opaque to the rater: a random id, never derived from the conditions. */
    id: uuid('id').primaryKey().defaultRandom(),
    testId: uuid('test_id')
      .notNull()
      .references(() => listeningTests.id, { onDelete: 'cascade' }),
    raterId: uuid('rater_id')
      .notNull()
      .references(() => raters.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: trialKinds }).notNull(),
    role: text('role', { enum: trialRoles }).notNull().default('normal'),
    position: integer('position').notNull(),
    stimulusA: uuid('stimulus_a')
      .notNull()
      .references(() => stimuli.id, { onDelete: 'cascade' }),
    stimulusB: uuid('stimulus_b').references(() => stimuli.id, { onDelete: 'cascade' }),
    /** The real recording a similarity trial compares against. */
    referenceStimulus: uuid('reference_stimulus').references(() => stimuli.id, { onDelete: 'cascade' }),
    /** For gold and trap trials: the answer a careful rater gives. */
    expected: text('expected'),
    /** When the trial was first shown: the server's own measure of how long the rater took. */
    servedAt: timestamp('served_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('trials_rater_position_idx').on(t.raterId, t.position)],
);

export const votes = pgTable(
  'votes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    trialId: uuid('trial_id')
      .notNull()
      .references(() => trials.id, { onDelete: 'cascade' }),
    raterId: uuid('rater_id')
      .notNull()
      .references(() => raters.id, { onDelete: 'cascade' }),
    /** 'a' | 'b' for preference trials, '1'..'5' for MOS and similarity. */
    answer: text('answer').notNull(),
    /** How long the audio played and how long the rater took, as the page measured them. */
    playedMs: integer('played_ms'),
    elapsedMs: integer('elapsed_ms'),
    createdAt: createdAt(),
  },
  // One vote per trial: a retried submission finds this row instead of adding another.
  (t) => [uniqueIndex('votes_trial_idx').on(t.trialId), index('votes_rater_idx').on(t.raterId)],
);
