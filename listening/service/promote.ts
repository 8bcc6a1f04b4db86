/**
 * Promotion: the rule (stats/promotion.ts) names the winner; this applies it to the voice and
 * records the decision's numbers. Rollback undoes the latest promotion, also recorded.
 */
import {
  type Db,
  getVoice,
  listPromotions,
  type Promotion,
  promoteCheckpoint,
  rollbackPromotion,
} from '../../db/index.ts';
import { toSnake } from '../report/export.ts';
import { ListeningError } from './errors.ts';
import { computeResults } from './results.ts';
import { getTest } from './tests.ts';

export async function promoteFromTest(db: Db, testId: string, actor: string): Promise<Promotion> {
  const test = await getTest(db, testId);
  const results = await computeResults(db, test);
  const decision = results.decision;
  if (!decision?.promote) {
    throw new ListeningError(
      'PROMOTION_NOT_JUSTIFIED',
      `The promotion rule names no winner: ${decision ? decision.reason : 'the test has no incumbent to compare with'}`,
      // The same snake_case numbers the promotion records when it happens.
      { details: decision ? toSnake(decision.audit) : undefined },
    );
  }
  const winner = results.conditions.find((c) => c.id === decision.winner);
  const incumbent = results.conditions.find((c) => c.id === results.incumbent);
  if (!winner?.checkpointId) throw new Error('promotion winner without a checkpoint');
  const voice = await getVoice(db, test.voiceId);
  if (!voice) throw new ListeningError('VOICE_NOT_FOUND', 'The test voice no longer exists');
  const labels = Object.fromEntries(results.conditions.map((c) => [c.id, c.label]));
  const outcome = await promoteCheckpoint(db, {
    voiceId: voice.id,
    expectedFrom: voice.checkpointId,
    to: winner.checkpointId,
    testId: test.id,
    statistics: {
      audit: toSnake(decision.audit),
      winner: { condition: winner.id, label: winner.label, checkpoint_id: winner.checkpointId },
      incumbent: incumbent
        ? { condition: incumbent.id, label: incumbent.label, checkpoint_id: incumbent.checkpointId }
        : null,
      labels,
      votes: results.votes,
      excluded_votes: results.naturalness.excludedVotes + results.flaggedVotes,
    },
    actor,
  });
  if (!outcome.ok) {
    throw new ListeningError('CONFLICT', 'The voice changed checkpoint while the decision was computed; try again');
  }
  return outcome.promotion;
}

/** Applies the rule if the test is configured to promote on its own; never throws for "no winner". */
export async function autoPromote(db: Db, testId: string): Promise<Promotion | undefined> {
  const test = await getTest(db, testId);
  if (!(test.config as { auto_promote?: boolean }).auto_promote) return undefined;
  try {
    return await promoteFromTest(db, testId, 'auto');
  } catch (err) {
    if (err instanceof ListeningError && (err.code === 'PROMOTION_NOT_JUSTIFIED' || err.code === 'CONFLICT')) {
      return undefined;
    }
    throw err;
  }
}

export async function rollbackVoice(db: Db, voiceId: string, actor: string): Promise<Promotion> {
  const outcome = await rollbackPromotion(db, voiceId, actor);
  if (outcome.ok) return outcome.promotion;
  if (outcome.reason === 'voice-not-found') {
    throw new ListeningError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'path.voice_id' });
  }
  throw new ListeningError('NOTHING_TO_ROLL_BACK', 'The voice has no promotion in effect to roll back');
}

export async function promotionHistory(db: Db, voiceId: string): Promise<Promotion[]> {
  if (!(await getVoice(db, voiceId))) {
    throw new ListeningError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'query.voice_id' });
  }
  return listPromotions(db, voiceId);
}
