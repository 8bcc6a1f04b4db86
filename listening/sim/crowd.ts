/**
 * A simulated crowd for checking the whole loop — design, quality control, statistics,
 * allocation, promotion — against known truth.
 *
 * Honest raters prefer item a to b with probability logistic(s_a − s_b) (a Bradley–Terry
 * crowd with known strengths), lean slightly toward the left clip, sometimes slip on a gold
 * trial, and take at least the audio's length to answer. Cheaters come in two kinds: random
 * clickers (coin flips, at a believable pace) and always-left clickers (fast).
 */
import { allocateTrials } from '../design/allocation.ts';
import { designSession, isCheckTrial, type Trial } from '../design/session.ts';
import { createRng, normal, type Rng } from '../rng.ts';
import { decidePromotion, type PromotionDecision } from '../stats/promotion.ts';
import { computeStatistics } from '../stats/summary.ts';
import type { Answer, ItemId, Side } from '../types.ts';

export type RaterKind = 'honest' | 'random' | 'always-left';

export interface CrowdConfig {
  seed: string | number;
  /** True log-strengths; the first item is the incumbent. */
  truth: Record<ItemId, number>;
  design: 'adaptive' | 'fixed';
  ratersPerRound: number;
  abPerSession: number;
  sentences: number;
  cheaterShare: { random: number; alwaysLeft: number };
  /** Stop without a decision after this many answers. */
  maxAnswers: number;
  bootstrapReplicates: number;
}

export const DEFAULT_CROWD: Readonly<Omit<CrowdConfig, 'seed' | 'design'>> = Object.freeze({
  truth: { base: 0, c1: 0.1, c2: 0.35, c3: 0.9, c4: 0.55, c5: 0.25, c6: -0.3 },
  ratersPerRound: 8,
  abPerSession: 20,
  sentences: 20,
  cheaterShare: { random: 0.1, alwaysLeft: 0.1 },
  maxAnswers: 20_000,
  bootstrapReplicates: 200,
});

export interface CrowdResult {
  design: CrowdConfig['design'];
  decision: PromotionDecision | null;
  winner: ItemId | null;
  rounds: number;
  /** Every answer collected, checks and cheaters included: what the test cost. */
  answers: number;
  validVotes: number;
  raters: Record<RaterKind, { total: number; flagged: number }>;
}

const AUDIO_MS = 7000;

function answerTrial(trial: Trial, kind: RaterKind, truth: Record<ItemId, number>, raterId: string, rng: Rng): Answer {
  const honestMs = AUDIO_MS * (1.1 + 0.3 * Math.abs(normal(rng))) + 1500;
  const responseMs = kind === 'always-left' ? 800 + 800 * rng.next() : honestMs;
  const base = { raterId, responseMs, audioMs: AUDIO_MS };
  const pick = (pLeft: number): Side =>
    kind === 'always-left' ? 'left' : rng.next() < (kind === 'random' ? 0.5 : pLeft) ? 'left' : 'right';
  if (trial.kind === 'ab') {
    const diff = (truth[trial.left] ?? 0) - (truth[trial.right] ?? 0) + 0.1; // small left lean
    return {
      ...base,
      kind: 'ab',
      sentenceId: trial.sentenceId,
      left: trial.left,
      right: trial.right,
      choice: pick(1 / (1 + Math.exp(-diff))),
    };
  }
  if (isCheckTrial(trial)) {
    const slip = trial.kind === 'gold' ? 0.03 : 0.01;
    const pLeft = trial.expected === 'left' ? 1 - slip : slip;
    return { ...base, kind: trial.kind, expected: trial.expected, choice: pick(pLeft) };
  }
  return { ...base, kind: trial.kind, sentenceId: trial.sentenceId, item: trial.item, score: 3 };
}

export function runCrowd(config: CrowdConfig): CrowdResult {
  const rng = createRng(`crowd/${config.seed}`);
  const items = Object.keys(config.truth);
  const incumbent = items[0] as ItemId;
  const candidates = items.slice(1);
  const sentences = Array.from({ length: config.sentences }, (_, i) => `s${i}`);
  const uniform = items.flatMap((a, i) => items.slice(i + 1).map((b) => ({ a, b, trials: 1 })));
  const answers: Answer[] = [];
  const kinds = new Map<string, RaterKind>();
  let pairs = uniform;
  let decision: PromotionDecision | null = null;
  let rounds = 0;
  let validVotes = 0;
  let stats: ReturnType<typeof computeStatistics> | null = null;
  while (answers.length < config.maxAnswers) {
    rounds++;
    for (let r = 0; r < config.ratersPerRound; r++) {
      const raterId = `rater-${rounds}-${r}`;
      const u = rng.next();
      const kind: RaterKind =
        u < config.cheaterShare.random
          ? 'random'
          : u < config.cheaterShare.random + config.cheaterShare.alwaysLeft
            ? 'always-left'
            : 'honest';
      kinds.set(raterId, kind);
      const session = designSession({
        raterId,
        seed: `${config.seed}/${rounds}`,
        sentences,
        // Scale weights up so a session draws from the allocation's proportions without exhausting it.
        pairs: pairs.map((p) => ({ ...p, trials: p.trials * config.abPerSession })),
        abTrials: config.abPerSession,
        goldIds: ['g1', 'g2', 'g3'],
        trapIds: ['t1', 't2'],
        gold: 6,
        trap: 2,
      });
      for (const t of session.trials) answers.push(answerTrial(t, kind, config.truth, raterId, rng));
    }
    stats = computeStatistics(answers, {
      items,
      bootstrap: { replicates: config.bootstrapReplicates, seed: `${config.seed}/${rounds}` },
    });
    validVotes = stats.validPreferenceVotes;
    decision = decidePromotion({
      bradleyTerry: stats.bradleyTerry,
      headToHead: stats.headToHead,
      totalVotes: stats.validPreferenceVotes,
      incumbent,
      candidates,
    });
    if (decision.promote) break;
    if (config.design === 'adaptive') {
      const allocation = allocateTrials({
        bradleyTerry: stats.bradleyTerry,
        headToHead: stats.headToHead,
        incumbent,
        candidates,
        budget: config.ratersPerRound * config.abPerSession,
      });
      if (allocation.settled) break;
      pairs = allocation.pairs;
    }
  }
  const raters: CrowdResult['raters'] = {
    honest: { total: 0, flagged: 0 },
    random: { total: 0, flagged: 0 },
    'always-left': { total: 0, flagged: 0 },
  };
  for (const report of stats?.raters ?? []) {
    const kind = kinds.get(report.raterId) ?? 'honest';
    raters[kind].total++;
    if (report.status === 'flagged') raters[kind].flagged++;
  }
  return {
    design: config.design,
    decision,
    winner: decision?.promote ? decision.winner : null,
    rounds,
    answers: answers.length,
    validVotes,
    raters,
  };
}
