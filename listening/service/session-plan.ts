/**
 * Turns a rater's designed session (design/session.ts) into stored trials: which stimulus
 * plays on which side, the reference for similarity trials, the answer for gold and trap.
 */
import type { Condition, NewTrial, Stimulus } from '../../db/index.ts';
import { allocateTrials } from '../design/allocation.ts';
import { designSession, type Trial } from '../design/session.ts';
import { createRng, type Rng } from '../rng.ts';
import type { TestConfig } from './config.ts';
import type { Evaluation } from './results.ts';

export type PlanInput = {
  testId: string;
  raterId: string;
  config: TestConfig;
  conditions: Condition[];
  stimuli: Stimulus[];
  /** Current statistics, decision and incumbent: with enough votes, A/B trials go where the rule still needs them. */
  evaluation?: Evaluation | undefined;
  incumbent?: string | undefined;
};

/** Below this many valid A/B votes every pair is sampled evenly: early intervals mean little. */
export const ADAPTIVE_AFTER_VOTES = 40;

function allPairs(items: string[], trials: number) {
  const pairs: { a: string; b: string; trials: number }[] = [];
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) pairs.push({ a: items[i] as string, b: items[j] as string, trials });
  return pairs;
}

/** Merges two trial lists in random order, keeping each list's own order (so checks stay spread). */
function riffle<T>(x: T[], y: T[], rng: Rng): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const takeX = j >= y.length || (i < x.length && rng.next() < (x.length - i) / (x.length - i + y.length - j));
    out.push((takeX ? x[i++] : y[j++]) as T);
  }
  return out;
}

export function planSession(input: PlanInput): { trials: NewTrial[]; allocation: 'even' | 'adaptive' } {
  const { config, conditions } = input;
  const byKind = (k: Condition['kind']) => conditions.filter((c) => c.kind === k).map((c) => c.id);
  const candidates = byKind('checkpoint');
  const base = byKind('base')[0];
  const real = byKind('real')[0];
  const degraded = byKind('degraded')[0];
  const trap = byKind('trap')[0];
  const stim = new Map(input.stimuli.map((s) => [`${s.conditionId}/${s.sentenceIndex}`, s]));
  const at = (condition: string | undefined, sentence: string | number) =>
    condition ? stim.get(`${condition}/${sentence}`) : undefined;
  const sentences = config.sentences.map((_, i) => String(i));
  const recorded = sentences.filter((s) => at(real, s));
  const seed = `${config.seed}/${input.raterId}`;
  const rng = createRng(`${seed}/plan`);

  const contestants = [...candidates, ...(base ? [base] : [])];
  const perRater = config.trials_per_rater;
  const incumbent = input.incumbent;
  const rivals = incumbent ? contestants.filter((c) => c !== incumbent) : [];
  let naturalPairs = allPairs([...contestants, ...(real && recorded.length ? [real] : [])], perRater.ab_naturalness);
  // The similarity gate compares each candidate with the incumbent, so that is where those trials go.
  let similarityPairs = incumbent
    ? rivals.map((c) => ({ a: c, b: incumbent, trials: perRater.ab_similarity }))
    : allPairs(contestants, perRater.ab_similarity);
  let allocation: 'even' | 'adaptive' = 'even';
  const evaluation = input.evaluation;
  if (evaluation?.decision && incumbent && evaluation.naturalness.validPreferenceVotes >= ADAPTIVE_AFTER_VOTES) {
    const next = allocateTrials({
      decision: evaluation.decision,
      fit: evaluation.naturalness.bradleyTerry.fit,
      headToHead: evaluation.naturalness.headToHead,
      similarityHeadToHead: evaluation.likeness.headToHead,
      incumbent,
      candidates: rivals,
      budget: perRater.ab_naturalness,
      similarityBudget: perRater.ab_similarity,
      rng: rng.fork('allocation'),
    });
    if (!next.settled && next.pairs.length > 0) {
      naturalPairs = next.pairs;
      if (next.similarityPairs.length > 0) similarityPairs = next.similarityPairs;
      allocation = 'adaptive';
    }
  }
  const natural = designSession({
    raterId: input.raterId,
    seed: `${seed}/naturalness`,
    sentences,
    pairs: naturalPairs,
    abTrials: perRater.ab_naturalness,
    ratings: { kind: 'mos', items: [...contestants, ...(real ? [real] : [])], count: perRater.mos },
    goldIds: degraded ? recorded : [],
    trapIds: trap && at(trap, 0) && at(trap, 1) ? ['trap'] : [],
    gold: recorded.length > 0 ? config.gold_per_rater : 0,
    trap: config.trap_per_rater,
  });
  const likeness =
    real && recorded.length > 0
      ? designSession({
          raterId: input.raterId,
          seed: `${seed}/similarity`,
          sentences,
          pairs: similarityPairs,
          abTrials: perRater.ab_similarity,
          // The real recording is rated too (against another of its sentences): the anchor at the top of the scale.
          ratings: { kind: 'similarity', items: [...contestants, ...(real ? [real] : [])], count: perRater.similarity },
          goldIds: [],
          trapIds: [],
          gold: 0,
          trap: 0,
        })
      : undefined;

  /** A real recording of another sentence than the one heard, so content does not give likeness away. */
  const reference = (sentence: string) => {
    const others = recorded.filter((s) => s !== sentence);
    const pick = others.length ? others[rng.int(others.length)] : recorded[0];
    return at(real, pick as string)?.id;
  };
  const filler = (sentence: string) => at(base ?? candidates[0], sentence);

  const rows: NewTrial[] = [];
  const push = (row: Omit<NewTrial, 'testId' | 'raterId' | 'position'>) =>
    rows.push({ ...row, testId: input.testId, raterId: input.raterId, position: rows.length });
  type Tagged = { t: Trial; family: 'natural' | 'likeness' };
  const tagged = riffle<Tagged>(
    natural.trials.map((t) => ({ t, family: 'natural' })),
    (likeness?.trials ?? []).map((t) => ({ t, family: 'likeness' })),
    rng,
  );
  for (const { t, family } of tagged) addTrial(t, family);
  return { trials: rows, allocation };

  function addTrial(t: Trial, family: 'natural' | 'likeness') {
    if (t.kind === 'ab') {
      const a = at(t.left, t.sentenceId);
      const b = at(t.right, t.sentenceId);
      if (!a || !b) return;
      if (family === 'natural') push({ kind: 'ab_naturalness', stimulusA: a.id, stimulusB: b.id });
      else
        push({ kind: 'ab_similarity', stimulusA: a.id, stimulusB: b.id, referenceStimulus: reference(t.sentenceId) });
    } else if (t.kind === 'mos') {
      const a = at(t.item, t.sentenceId);
      if (a) push({ kind: 'mos', stimulusA: a.id });
    } else if (t.kind === 'similarity') {
      const a = at(t.item, t.sentenceId);
      const ref = reference(t.sentenceId);
      if (a && ref) push({ kind: 'similarity', stimulusA: a.id, referenceStimulus: ref });
    } else if (t.kind === 'gold') {
      const good = at(real, t.checkId);
      const bad = at(degraded, t.checkId);
      if (!good || !bad) return;
      const [x, y] = t.expected === 'left' ? [good, bad] : [bad, good];
      push({
        kind: 'ab_naturalness',
        role: 'gold',
        stimulusA: x.id,
        stimulusB: y.id,
        expected: t.expected === 'left' ? 'a' : 'b',
      });
    } else if (t.kind === 'trap') {
      // The instruction plays on the side it names; the other side is an ordinary rendering.
      const say = at(trap, t.expected === 'left' ? 0 : 1);
      const other = filler(sentences[rng.int(sentences.length)] as string);
      if (!say || !other) return;
      const [x, y] = t.expected === 'left' ? [say, other] : [other, say];
      push({
        kind: 'ab_naturalness',
        role: 'trap',
        stimulusA: x.id,
        stimulusB: y.id,
        expected: t.expected === 'left' ? 'a' : 'b',
      });
    }
  }
}
