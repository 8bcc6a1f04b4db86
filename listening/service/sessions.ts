/**
 * A rater's way through a test: invitation → session token → headphone check → trials →
 * votes → completion code. The token is the only credential; only its hash is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  completeRater,
  type Db,
  findRaterByTokenHash,
  findRaterByWorker,
  findTestByInviteCode,
  flagRater,
  getListeningTest,
  getStimulus,
  getTrial,
  insertRater,
  insertTrials,
  insertVote,
  type ListeningTest,
  listConditions,
  listStimuli,
  listVoteRecords,
  nextTrial,
  type Rater,
  raterProgress,
  redeemCompletion,
  type TrialRow,
  updateRater,
  type VoteRow,
} from '../../db/index.ts';
import { assessRaters } from '../stats/quality-control.ts';
import { HEADPHONE_QUESTIONS, headphoneAnswers } from './audio.ts';
import type { AudioStore } from './audio-store.ts';
import { configOf } from './config.ts';
import { ListeningError } from './errors.ts';
import { paddedSize, padWav } from './padding.ts';
import { computeResults, toAnswers } from './results.ts';
import { planSession } from './session-plan.ts';

const TOKEN_PREFIX = 'lrt_';
const hashRaterToken = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => TOKEN_PREFIX + randomBytes(32).toString('base64url');

export async function findInvitation(db: Db, code: string): Promise<ListeningTest> {
  const test = code.length >= 16 ? await findTestByInviteCode(db, code) : undefined;
  if (!test)
    throw new ListeningError('INVITATION_NOT_FOUND', 'This invitation link is not valid', { field: 'path.code' });
  if (test.status === 'closed') throw new ListeningError('TEST_CLOSED', 'This listening test has ended');
  if (test.status !== 'open') throw new ListeningError('TEST_NOT_OPEN', 'This listening test has not started yet');
  return test;
}

/**
 * Starts (or, for a returning crowd worker, resumes) a session after consent. A returning
 * worker gets a new token for the same rater, so they never meet a trial twice and any old
 * token stops working.
 */
export async function joinTest(
  db: Db,
  code: string,
  workerId: string | undefined,
): Promise<{ token: string; rater: Rater; resumed: boolean }> {
  const test = await findInvitation(db, code);
  const token = newToken();
  if (workerId) {
    const existing = await findRaterByWorker(db, test.id, workerId);
    if (existing) {
      const rater = await updateRater(db, existing.id, { tokenHash: hashRaterToken(token) });
      return { token, rater: rater ?? existing, resumed: true };
    }
  }
  const rater = await insertRater(db, {
    testId: test.id,
    tokenHash: hashRaterToken(token),
    workerId: workerId ?? null,
    consentedAt: new Date(),
  });
  const [conditions, stimuli] = await Promise.all([listConditions(db, test.id), listStimuli(db, test.id)]);
  // Adaptive allocation follows the rule's state; it needs no bootstrap intervals.
  const results = await computeResults(db, test, { replicates: 0 });
  const plan = planSession({
    testId: test.id,
    raterId: rater.id,
    config: configOf(test),
    conditions,
    stimuli,
    evaluation: results,
    incumbent: results.incumbent ?? undefined,
  });
  await insertTrials(db, plan.trials);
  return { token, rater, resumed: false };
}

export type RaterContext = { rater: Rater; test: ListeningTest };

/** The rater a token belongs to. Unknown, rotated or malformed tokens are all the same 401. */
export async function authenticateRater(db: Db, token: string): Promise<RaterContext> {
  const rater = token.startsWith(TOKEN_PREFIX) ? await findRaterByTokenHash(db, hashRaterToken(token)) : undefined;
  const test = rater ? await getListeningTest(db, rater.testId) : undefined;
  if (!rater || !test) throw new ListeningError('RATER_TOKEN_INVALID', 'This session link is not valid');
  return { rater, test };
}

function requireOpen(test: ListeningTest) {
  if (test.status === 'closed') throw new ListeningError('TEST_CLOSED', 'This listening test has ended');
  if (test.status !== 'open') throw new ListeningError('TEST_NOT_OPEN', 'This listening test is not open');
}

/** Grades the headphone check; a failure ends the session (the rater is flagged, not deleted). */
export async function submitHeadphoneCheck(db: Db, ctx: RaterContext, answers: number[]): Promise<{ passed: boolean }> {
  requireOpen(ctx.test);
  if (ctx.rater.headphoneCheckPassedAt) return { passed: true };
  if (ctx.rater.flaggedAt) return { passed: false };
  const expected = headphoneAnswers(ctx.rater.id);
  const correct = expected.filter((a, i) => answers[i] === a).length;
  // Woods et al. pass 5 of 6; with 3 questions, all 3 (chance 1/27).
  const passed = answers.length === HEADPHONE_QUESTIONS && correct === HEADPHONE_QUESTIONS;
  if (passed) await updateRater(db, ctx.rater.id, { headphoneCheckPassedAt: new Date() });
  else await flagRater(db, ctx.rater.id, 'headphone-check');
  return { passed };
}

export type TrialView = {
  trialId: string;
  task: TrialRow['kind'];
  /** Which clips the page must play before it may vote: 'ref' (similarity), 'a', 'b'. */
  slots: ('ref' | 'a' | 'b')[];
  position: number;
  total: number;
};

export type SessionState =
  | { step: 'headphones' }
  | { step: 'screened-out' }
  | { step: 'trial'; trial: TrialView }
  | { step: 'done'; completionCode: string | null; answered: number; total: number };

export async function sessionState(db: Db, ctx: RaterContext): Promise<SessionState> {
  const { rater } = ctx;
  if (rater.completedAt) {
    const p = await raterProgress(db, rater.id);
    return { step: 'done', completionCode: rater.completionCode, ...p };
  }
  if (!rater.headphoneCheckPassedAt) return rater.flaggedAt ? { step: 'screened-out' } : { step: 'headphones' };
  requireOpen(ctx.test);
  const trial = await nextTrial(db, rater.id);
  const progress = await raterProgress(db, rater.id);
  if (!trial) return { step: 'done', completionCode: null, ...progress };
  return {
    step: 'trial',
    trial: {
      trialId: trial.id,
      task: trial.kind,
      slots: [
        ...(trial.referenceStimulus ? (['ref'] as const) : []),
        'a',
        ...(trial.stimulusB ? (['b'] as const) : []),
      ],
      position: progress.answered + 1,
      total: progress.total,
    },
  };
}

const validAnswer = (kind: TrialRow['kind'], answer: string) =>
  kind === 'ab_naturalness' || kind === 'ab_similarity' ? answer === 'a' || answer === 'b' : /^[1-5]$/.test(answer);

/**
 * Stores one vote. The trial must be this rater's and already shown; a retry with the same
 * answer returns the stored vote, a different answer is refused and changes nothing.
 */
export async function castVote(
  db: Db,
  ctx: RaterContext,
  trialId: string,
  input: { answer: string; playedMs?: number | undefined },
  now = new Date(),
): Promise<{ vote: VoteRow; duplicate: boolean }> {
  requireOpen(ctx.test);
  const trial = await getTrial(db, trialId);
  // Someone else's trial answers exactly like a made-up id: nothing about it is revealed.
  if (!trial || trial.raterId !== ctx.rater.id) {
    throw new ListeningError('TRIAL_NOT_FOUND', 'No such trial in this session', { field: 'path.trial_id' });
  }
  if (!validAnswer(trial.kind, input.answer)) {
    throw new ListeningError('VALIDATION_FAILED', `Not an answer to a ${trial.kind} trial`, { field: 'body.answer' });
  }
  if (!trial.servedAt)
    throw new ListeningError('VOTE_REJECTED', 'This trial has not been presented yet', { field: 'path.trial_id' });
  if (!ctx.rater.headphoneCheckPassedAt)
    throw new ListeningError('HEADPHONE_CHECK_REQUIRED', 'Do the headphone check first');
  const { vote, created } = await insertVote(db, {
    trialId: trial.id,
    raterId: ctx.rater.id,
    answer: input.answer,
    playedMs: input.playedMs ?? null,
    elapsedMs: Math.max(0, now.getTime() - trial.servedAt.getTime()),
  });
  if (!created && vote.answer !== input.answer) {
    throw new ListeningError('VOTE_REJECTED', 'This trial already has a different answer', { field: 'body.answer' });
  }
  // Also on a retry: the first attempt may have stored the vote and lost its connection before this.
  if (trial.role !== 'normal') await checkRater(db, ctx);
  return { vote, duplicate: !created };
}

/** Re-assesses the rater after each gold or trap answer; a failing rater is flagged at once. */
async function checkRater(db: Db, ctx: RaterContext) {
  const records = await listVoteRecords(db, { testId: ctx.test.id, raterId: ctx.rater.id });
  const [report] = assessRaters(toAnswers(records, 'naturalness'));
  if (report?.status === 'flagged') await flagRater(db, ctx.rater.id, report.reasons.join(','));
}

/** Ends the session once every trial has an answer; the code is stable across retries. */
export async function completeSession(db: Db, ctx: RaterContext): Promise<{ completionCode: string }> {
  if (ctx.rater.completedAt && ctx.rater.completionCode) return { completionCode: ctx.rater.completionCode };
  const p = await raterProgress(db, ctx.rater.id);
  if (!ctx.rater.headphoneCheckPassedAt || p.answered < p.total) {
    throw new ListeningError('SESSION_INCOMPLETE', `${p.total - p.answered} trials are still unanswered`);
  }
  const done = await completeRater(db, ctx.rater.id, newCompletionCode());
  if (!done?.completionCode) throw new Error('completion code not stored');
  return { completionCode: done.completionCode };
}

/** Crockford's base32: no I, L, O or U, so a code read aloud or retyped survives. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const COMPLETION_CODE_LENGTH = 20;

/** 20 symbols of 5 random bits: 100 bits, not guessable; unique per rater by a database constraint. */
function newCompletionCode(): string {
  const bytes = randomBytes(COMPLETION_CODE_LENGTH);
  return Array.from(bytes, (b) => CODE_ALPHABET[b & 31]).join('');
}

/** A code as a person may type it: any case, spaces or dashes, O for 0, I or L for 1. */
export function normaliseCompletionCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/**
 * The owner checks a code a crowd worker handed in: valid once. With `workerId` the code must
 * also be that worker's own, so a code passed on to someone else is refused.
 */
export async function redeemCompletionCode(db: Db, testId: string, code: string, workerId?: string): Promise<Rater> {
  const normalised = normaliseCompletionCode(code);
  const result =
    normalised.length === COMPLETION_CODE_LENGTH
      ? await redeemCompletion(db, testId, normalised, workerId)
      : ({ outcome: 'unknown' } as const);
  if (result.outcome === 'used') {
    throw new ListeningError('COMPLETION_CODE_USED', 'This completion code was already redeemed', {
      field: 'body.code',
    });
  }
  if (result.outcome !== 'redeemed') {
    throw new ListeningError(
      'COMPLETION_CODE_UNKNOWN',
      workerId ? 'No such completion code for this worker in this test' : 'No such completion code in this test',
      { field: 'body.code' },
    );
  }
  return result.rater;
}

/**
 * The audio of one slot of a shown trial: the trial id itself is the capability. Every slot of
 * the trial is read and served at the same padded size (padding.ts), so the answer takes the
 * same work and has the same length whichever slot is asked for.
 */
export async function trialAudio(db: Db, audio: AudioStore, trialId: string, slot: string): Promise<Uint8Array> {
  const trial = await getTrial(db, trialId);
  if (!trial?.servedAt) throw new ListeningError('TRIAL_NOT_FOUND', 'No such audio', { field: 'path.trial_id' });
  const slots = { a: trial.stimulusA, b: trial.stimulusB, ref: trial.referenceStimulus } as Record<
    string,
    string | null
  >;
  if (!Object.hasOwn(slots, slot) || !slots[slot]) {
    throw new ListeningError('TRIAL_NOT_FOUND', 'No such audio', { field: 'path.trial_id' });
  }
  const present = Object.entries(slots).filter((e): e is [string, string] => e[1] !== null);
  const clips = await Promise.all(
    present.map(async ([name, id]) => {
      const stimulus = await getStimulus(db, id);
      const bytes = stimulus ? await audio.get(stimulus.audioPath) : undefined;
      return { name, bytes };
    }),
  );
  const size = paddedSize(clips.map((c) => c.bytes?.length ?? 0));
  const mine = clips.find((c) => c.name === slot)?.bytes;
  if (!mine) throw new ListeningError('TRIAL_NOT_FOUND', 'The audio file is missing', { field: 'path.trial_id' });
  return padWav(mine, size);
}
