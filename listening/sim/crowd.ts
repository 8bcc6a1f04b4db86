/**
 * A simulated crowd that runs the production code paths with production defaults: sessions
 * come from `planSession` (with the adaptive allocation it applies), answers become the rows
 * the database would hold, and statistics, rater quality control and the promotion decision
 * come from `evaluateVotes`, exactly as the service computes them. The rule is evaluated after
 * every round of raters, as the service does after every completed session.
 *
 * The crowd is harder than the scripted one in the end-to-end tests:
 * - Honest raters differ: each has their own taste (a random offset on every item's naturalness
 *   and similarity), a side bias (a lean towards the left or right clip), fatigue (a growing
 *   chance of answering at random later in the session), a personal bias on rating scales, and
 *   noise on every rating. Gold and trap trials are slipped now and then.
 * - Cheaters of every kind: random clickers (random on everything, at a believable pace),
 *   always-left clickers (fast), gold-passers (answer checks right, the rest at random),
 *   straight-liners (answer checks right, A/B at random, every rating the same).
 * - The real recording is in the test as the anchor and the similarity reference, with gold
 *   trials built from it and trap trials, as configured in production.
 */
import type { Condition, NewTrial, Stimulus, VoteRecord } from '../../db/index.ts';
import { createRng, normal, type Rng } from '../rng.ts';
import {
  DEFAULT_GOLD_PER_RATER,
  DEFAULT_TRAP_PER_RATER,
  DEFAULT_TRIALS_PER_RATER,
  type TestConfig,
  type TrialKind,
} from '../service/config.ts';
import { type Evaluation, evaluateVotes } from '../service/results.ts';
import { planSession } from '../service/session-plan.ts';
import type { PromotionPolicy } from '../stats/promotion.ts';

export type RaterKind = 'honest' | 'random' | 'always-left' | 'gold-passer' | 'straight-liner';
export const RATER_KINDS: readonly RaterKind[] = ['honest', 'random', 'always-left', 'gold-passer', 'straight-liner'];

/** What each synthesised item really is, for the crowd on average. */
export interface ItemTruth {
  /** Naturalness on the logit scale of A/B preference. */
  naturalness: number;
  /** Likeness to the speaker on the logit scale of A/B similarity preference. */
  likeness: number;
  /** Mean naturalness rating (1–5) before rater bias, noise and rounding. */
  mos: number;
  /** Mean similarity rating (1–5) likewise. */
  similarity: number;
}

export interface CrowdModel {
  /** Spread of a rater's taste around each item's naturalness and likeness (logit units). */
  tasteSd: number;
  /** Spread of raters' side bias (logit units towards the left clip). */
  sideBiasSd: number;
  /** Chance of a random answer at the end of a session, growing linearly from 0 at the start. */
  fatigue: number;
  /** Spread of raters' rating-scale bias and of the noise on each rating (scale points). */
  ratingBiasSd: number;
  ratingNoiseSd: number;
  goldSlip: number;
  trapSlip: number;
}

export const DEFAULT_CROWD_MODEL: Readonly<CrowdModel> = Object.freeze({
  tasteSd: 0.5,
  sideBiasSd: 0.3,
  fatigue: 0.15,
  ratingBiasSd: 0.5,
  ratingNoiseSd: 0.6,
  goldSlip: 0.02,
  trapSlip: 0.01,
});

export interface CrowdConfig {
  seed: string | number;
  /** The incumbent is the key `base`; every other key except `real` is a candidate checkpoint. */
  truth: Record<string, ItemTruth>;
  design: 'adaptive' | 'fixed';
  ratersPerRound: number;
  /** Share of each cheater kind among raters. */
  cheaters: Partial<Record<Exclude<RaterKind, 'honest'>, number>>;
  /** Stop undecided after this many raters. */
  maxRaters: number;
  model?: CrowdModel;
  policy?: Partial<PromotionPolicy>;
  trialsPerRater?: Record<TrialKind, number>;
  sentences?: number;
  /** Evaluate only once, after maxRaters (for interval coverage), instead of after every round. */
  lookOnce?: boolean;
}

export interface CrowdResult {
  winner: string | null;
  settled: boolean;
  reason: string | null;
  raters: number;
  /** A/B and rating answers of every rater, cheaters and checks included: what the test cost. */
  answers: number;
  looks: number;
  flags: Record<RaterKind, { total: number; flagged: number }>;
  evaluation: Evaluation;
  /** Every answer as the database would store it. */
  records: VoteRecord[];
  conditions: Condition[];
  config: TestConfig;
}

const CLIP_MS = 3500;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clipScore = (x: number) => Math.min(5, Math.max(1, Math.round(x)));

/** The real recording as the crowd hears it: clearly natural and, by definition, the speaker. */
export const REAL: ItemTruth = { naturalness: 1.5, likeness: 2, mos: 4.5, similarity: 4.7 };

interface SimRater {
  id: string;
  kind: RaterKind;
  taste: Map<string, { naturalness: number; likeness: number }>;
  side: number;
  ratingBias: number;
}

function makeRater(id: string, kind: RaterKind, items: string[], model: CrowdModel, rng: Rng): SimRater {
  const taste = new Map(
    items.map((i) => [i, { naturalness: model.tasteSd * normal(rng), likeness: model.tasteSd * normal(rng) }]),
  );
  return { id, kind, taste, side: model.sideBiasSd * normal(rng), ratingBias: model.ratingBiasSd * normal(rng) };
}

export function runCrowd(config: CrowdConfig): CrowdResult {
  const model = config.model ?? DEFAULT_CROWD_MODEL;
  const rng = createRng(`crowd/${config.seed}`);
  const sentences = config.sentences ?? 20;
  const items = Object.keys(config.truth);
  const truth: Record<string, ItemTruth> = { ...config.truth, real: REAL };
  const conditions: Condition[] = [
    ...items.map((id) => ({
      id,
      testId: 't',
      kind: id === 'base' ? 'base' : 'checkpoint',
      checkpointId: null,
      label: id,
    })),
    { id: 'real', testId: 't', kind: 'real', checkpointId: null, label: 'real' },
    { id: 'degraded', testId: 't', kind: 'degraded', checkpointId: null, label: 'degraded' },
    { id: 'trap', testId: 't', kind: 'trap', checkpointId: null, label: 'trap' },
  ] as Condition[];
  const stimuli = conditions.flatMap((c) =>
    Array.from({ length: c.kind === 'trap' ? 2 : sentences }, (_, s) => ({
      id: `${c.id}/${s}`,
      conditionId: c.id,
      sentenceIndex: s,
    })),
  ) as Stimulus[];
  const stimulus = new Map(stimuli.map((s) => [s.id, s]));
  const testConfig: TestConfig = {
    language: 'en',
    sentences: Array.from({ length: sentences }, (_, i) => ({ text: `s${i}`, seed: i })),
    trials_per_rater: { ...(config.trialsPerRater ?? DEFAULT_TRIALS_PER_RATER) },
    gold_per_rater: DEFAULT_GOLD_PER_RATER,
    trap_per_rater: DEFAULT_TRAP_PER_RATER,
    invite_code: 'sim',
    auto_promote: true,
    promotion_policy: { ...config.policy },
    seed: `sim/${config.seed}`,
  };
  const context = {
    conditions,
    config: testConfig,
    incumbent: 'base',
    similarityMeasured: true,
    replicates: 0,
  };
  const records: VoteRecord[] = [];
  const kinds = new Map<string, RaterKind>();
  let evaluation = evaluateVotes(records, context);
  let raters = 0;
  let looks = 0;
  let clock = 0;
  const cheaterKinds = Object.entries(config.cheaters) as [RaterKind, number][];
  while (raters < config.maxRaters) {
    const round = Math.min(config.ratersPerRound, config.maxRaters - raters);
    for (let r = 0; r < round; r++) {
      const id = `rater-${raters++}`;
      let u = rng.next();
      let kind: RaterKind = 'honest';
      for (const [k, share] of cheaterKinds) {
        if (u < share) {
          kind = k;
          break;
        }
        u -= share;
      }
      kinds.set(id, kind);
      const rater = makeRater(id, kind, [...items, 'real'], model, rng.fork(id));
      const plan = planSession({
        testId: 't',
        raterId: id,
        config: testConfig,
        conditions,
        stimuli,
        evaluation: config.design === 'adaptive' ? evaluation : undefined,
        incumbent: 'base',
      });
      const answerRng = rng.fork(`${id}/answers`);
      plan.trials.forEach((trial, position) => {
        clock += 1;
        records.push(answer(trial, position / plan.trials.length, rater, truth, model, stimulus, answerRng, clock));
      });
      // The session completes now: its votes enter the decision from this look on.
      const done = new Date(clock);
      for (let i = records.length - plan.trials.length; i < records.length; i++) {
        (records[i] as VoteRecord).raterCompletedAt = done;
      }
    }
    if (config.lookOnce && raters < config.maxRaters) continue;
    evaluation = evaluateVotes(records, context);
    looks++;
    if (evaluation.decision?.settled) break;
  }
  const flags = Object.fromEntries(RATER_KINDS.map((k) => [k, { total: 0, flagged: 0 }])) as CrowdResult['flags'];
  for (const report of evaluation.naturalness.raters) {
    const kind = kinds.get(report.raterId) ?? 'honest';
    flags[kind].total++;
    if (report.status !== 'trusted') flags[kind].flagged++;
  }
  const d = evaluation.decision;
  return {
    winner: d?.promote ? d.winner : null,
    settled: d?.settled ?? false,
    reason: d && !d.promote ? d.reason : null,
    raters,
    answers: records.length,
    looks,
    flags,
    evaluation,
    records,
    conditions,
    config: testConfig,
  };
}

function answer(
  trial: NewTrial,
  progress: number,
  rater: SimRater,
  truth: Record<string, ItemTruth>,
  model: CrowdModel,
  stimulus: Map<string, Stimulus>,
  rng: Rng,
  clock: number,
): VoteRecord {
  const a = stimulus.get(trial.stimulusA) as Stimulus;
  const b = trial.stimulusB ? stimulus.get(trial.stimulusB) : undefined;
  const slots = 1 + (b ? 1 : 0) + (trial.referenceStimulus ? 1 : 0);
  const audioMs = slots * CLIP_MS;
  const kind = rater.kind;
  const fast = kind === 'always-left';
  const elapsedMs = fast ? 600 + 600 * rng.next() : audioMs * (1.05 + 0.2 * Math.abs(normal(rng))) + 1500;
  const role = trial.role ?? 'normal';
  const checksRight = kind === 'honest' || kind === 'gold-passer' || kind === 'straight-liner';
  const lapse = kind === 'honest' && rng.next() < model.fatigue * progress;
  const pick = (pA: number) => (rng.next() < pA ? 'a' : 'b');
  let value: string;
  if (role === 'gold' || role === 'trap') {
    const slip = role === 'gold' ? model.goldSlip : model.trapSlip;
    const pExpected = kind === 'always-left' ? (trial.expected === 'a' ? 1 : 0) : checksRight ? 1 - slip : 0.5;
    value = rng.next() < pExpected ? (trial.expected ?? 'a') : trial.expected === 'a' ? 'b' : 'a';
  } else if (trial.kind === 'ab_naturalness' || trial.kind === 'ab_similarity') {
    if (kind === 'always-left') value = 'a';
    else if (kind !== 'honest' || lapse) value = pick(0.5);
    else {
      const field = trial.kind === 'ab_naturalness' ? 'naturalness' : 'likeness';
      const score = (id: string) => (truth[id]?.[field] ?? 0) + (rater.taste.get(id)?.[field] ?? 0);
      value = pick(sigmoid(score(a.conditionId) - score((b as Stimulus).conditionId) + rater.side));
    }
  } else {
    const field = trial.kind === 'mos' ? 'mos' : 'similarity';
    if (kind === 'straight-liner') value = '4';
    else if (kind === 'random' || kind === 'gold-passer') value = String(1 + Math.floor(5 * rng.next()));
    else if (kind === 'always-left') value = '3';
    else {
      const mean = truth[a.conditionId]?.[field] ?? 3;
      value = String(clipScore(mean + rater.ratingBias + model.ratingNoiseSd * normal(rng)));
    }
  }
  return {
    voteId: `${rater.id}/${clock}`,
    raterId: rater.id,
    raterFlagged: false,
    raterCompletedAt: null,
    trialId: `${rater.id}/${clock}`,
    kind: trial.kind,
    role,
    expected: trial.expected ?? null,
    answer: value,
    playedMs: Math.round(elapsedMs),
    elapsedMs: Math.round(elapsedMs),
    sentenceIndex: a.sentenceIndex,
    conditionA: a.conditionId,
    conditionB: b?.conditionId ?? null,
    audioMs,
    createdAt: new Date(clock),
  };
}

/**
 * The crowd-level truths the intervals estimate, by Monte Carlo over many raters drawn from the
 * same model: the mean per-rater share of wins of x over y (naturalness A/B, sides balanced,
 * fatigue at a uniformly random point of the session) and the mean rating of an item.
 */
export function crowdTruth(
  truth: Record<string, ItemTruth>,
  model: CrowdModel = DEFAULT_CROWD_MODEL,
  draws = 200_000,
  seed = 'truth',
) {
  const rng = createRng(seed);
  const all: Record<string, ItemTruth> = { ...truth, real: REAL };
  const share = (x: string, y: string) => {
    let sum = 0;
    const d = (all[x]?.naturalness ?? 0) - (all[y]?.naturalness ?? 0);
    for (let i = 0; i < draws; i++) {
      const taste = model.tasteSd * (normal(rng) - normal(rng));
      const side = model.sideBiasSd * normal(rng);
      const lapse = model.fatigue * rng.next();
      const p = 0.5 * (sigmoid(d + taste + side) + sigmoid(d + taste - side));
      sum += (1 - lapse) * p + lapse * 0.5;
    }
    return sum / draws;
  };
  const rating = (item: string, field: 'mos' | 'similarity') => {
    let sum = 0;
    const mean = all[item]?.[field] ?? 3;
    for (let i = 0; i < draws; i++)
      sum += clipScore(mean + model.ratingBiasSd * normal(rng) + model.ratingNoiseSd * normal(rng));
    return sum / draws;
  };
  return { share, rating };
}
