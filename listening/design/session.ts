/**
 * One rater's session: blinded, randomised trials with sides balanced per rater, each
 * (sentence, pair) at most once per rater, gold and trap checks spread through it.
 *
 * Blinding: a trial is identified by an opaque random id. `blindView` is all a crowd page
 * gets; which rendering plays on which side is looked up server-side by trial id, so item
 * names never reach the browser.
 *
 * Everything random comes from one generator seeded with `seed`, so a session can be rebuilt
 * exactly from (inputs, seed).
 */
import { createRng, type Rng, shuffled } from '../rng.ts';
import type { ItemId, Side } from '../types.ts';
import { balancedSides, balancedSwaps } from './orientation.ts';

export interface AbTrial {
  kind: 'ab';
  trialId: string;
  sentenceId: string;
  left: ItemId;
  right: ItemId;
}

export interface RatingTrial {
  kind: 'mos' | 'similarity';
  trialId: string;
  sentenceId: string;
  item: ItemId;
}

export interface CheckTrial {
  kind: 'gold' | 'trap';
  trialId: string;
  /** Which prepared gold or trap stimulus to play. */
  checkId: string;
  expected: Side;
}

export type Trial = AbTrial | RatingTrial | CheckTrial;

export function isCheckTrial(t: Trial): t is CheckTrial {
  return t.kind === 'gold' || t.kind === 'trap';
}

export interface SessionRequest {
  raterId: string;
  seed: string | number;
  sentences: readonly string[];
  /** Where A/B trials should go, with weights (e.g. an Allocation's pairs). */
  pairs: ReadonlyArray<{ a: ItemId; b: ItemId; trials: number }>;
  abTrials: number;
  /** Absolute-rating trials: items rated one at a time on sentences the rater has not rated them on. */
  ratings?: { kind: 'mos' | 'similarity'; items: readonly ItemId[]; count: number };
  goldIds: readonly string[];
  trapIds: readonly string[];
  gold: number;
  trap: number;
  /** Keys (from `trialKey`) this rater has already met in earlier sessions. */
  seen?: Iterable<string>;
}

export interface Session {
  raterId: string;
  seed: string;
  trials: Trial[];
  /** Keys of the trials in this session, to add to the rater's `seen` set. */
  keys: string[];
  /** A/B or rating trials asked for but impossible without repeating a combination. */
  unfilled: number;
}

/** Order-free key of a sentence and a pair (or a rating kind and item). */
export function trialKey(kind: 'ab' | 'mos' | 'similarity', sentenceId: string, a: ItemId, b = ''): string {
  const [x, y] = a < b ? [a, b] : [b, a];
  return JSON.stringify([kind, sentenceId, x, y]);
}

function opaqueId(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 4; i++) s += rng.int(0x10000).toString(16).padStart(4, '0');
  return s;
}

function pickSentence(sentences: readonly string[], taken: (s: string) => boolean, rng: Rng): string | undefined {
  const open = sentences.filter((s) => !taken(s));
  return open.length > 0 ? open[rng.int(open.length)] : undefined;
}

function chooseAbTrials(req: SessionRequest, seen: Set<string>, rng: Rng): Array<[ItemId, ItemId, string]> {
  const weights = req.pairs.map((p) => Math.max(0, p.trials));
  const chosen: Array<[ItemId, ItemId, string]> = [];
  while (chosen.length < req.abTrials) {
    const total = weights.reduce((s, w) => s + w, 0);
    if (total <= 0) break;
    let r = rng.next() * total;
    let index = 0;
    while (index < weights.length - 1 && r >= (weights[index] as number)) r -= weights[index++] as number;
    const pair = req.pairs[index];
    if (!pair) break;
    const sentence = pickSentence(req.sentences, (s) => seen.has(trialKey('ab', s, pair.a, pair.b)), rng);
    if (sentence === undefined) {
      weights[index] = 0;
      continue;
    }
    seen.add(trialKey('ab', sentence, pair.a, pair.b));
    // Draw without replacement from the allocation, so one session follows its proportions.
    weights[index] = Math.max(0, (weights[index] as number) - 1);
    chosen.push([pair.a, pair.b, sentence]);
  }
  return chosen;
}

function chooseRatingTrials(req: SessionRequest, seen: Set<string>, rng: Rng): RatingTrial[] {
  const spec = req.ratings;
  if (!spec || spec.items.length === 0) return [];
  const out: RatingTrial[] = [];
  let items = shuffled(spec.items, rng);
  let misses = 0;
  for (let i = 0; out.length < spec.count && misses < items.length; i++) {
    if (i % items.length === 0 && i > 0) items = shuffled(spec.items, rng);
    const item = items[i % items.length] as ItemId;
    const sentence = pickSentence(req.sentences, (s) => seen.has(trialKey(spec.kind, s, item)), rng);
    if (sentence === undefined) {
      misses++;
      continue;
    }
    misses = 0;
    seen.add(trialKey(spec.kind, sentence, item));
    out.push({ kind: spec.kind, trialId: opaqueId(rng), sentenceId: sentence, item });
  }
  return out;
}

/** Puts each check in its own stretch of the session, at a random place within it. */
function interleave(main: Trial[], checks: Trial[], rng: Rng): Trial[] {
  const out: Trial[] = [];
  let from = 0;
  checks.forEach((check, k) => {
    const to = Math.floor(((k + 1) * main.length) / checks.length);
    const at = from + rng.int(to - from + 1);
    out.push(...main.slice(from, at), check);
    out.push(...main.slice(at, to));
    from = to;
  });
  out.push(...main.slice(from));
  return out;
}

export function designSession(req: SessionRequest): Session {
  const rng = createRng(`${req.seed}/${req.raterId}`);
  const seen = new Set(req.seen ?? []);
  const before = new Set(seen);
  const chosen = chooseAbTrials(req, seen, rng);
  const swaps = balancedSwaps(
    chosen.map(([a, b]) => [a, b] as const),
    rng,
  );
  const ab: AbTrial[] = chosen.map(([a, b, sentenceId], i) => ({
    kind: 'ab',
    trialId: opaqueId(rng),
    sentenceId,
    left: swaps[i] ? b : a,
    right: swaps[i] ? a : b,
  }));
  const ratings = chooseRatingTrials(req, seen, rng);
  const checkTrials = (kind: 'gold' | 'trap', ids: readonly string[], count: number): CheckTrial[] => {
    if (ids.length === 0) return [];
    const sides = balancedSides(count, rng);
    const order = shuffled(ids, rng);
    return sides.map((expected, i) => ({
      kind,
      trialId: opaqueId(rng),
      checkId: order[i % order.length] as string,
      expected,
    }));
  };
  const checks = shuffled(
    [...checkTrials('gold', req.goldIds, req.gold), ...checkTrials('trap', req.trapIds, req.trap)],
    rng,
  );
  const trials = interleave(shuffled<Trial>([...ab, ...ratings], rng), checks, rng);
  const asked = req.abTrials + (req.ratings?.count ?? 0);
  return {
    raterId: req.raterId,
    seed: rng.seed,
    trials,
    keys: [...seen].filter((k) => !before.has(k)),
    unfilled: asked - ab.length - ratings.length,
  };
}

/** What a crowd page may see of a trial: nothing that names an item or the right answer. */
export function blindView(trial: Trial): { trialId: string; task: 'ab' | 'mos' | 'similarity' } {
  return { trialId: trial.trialId, task: trial.kind === 'gold' || trial.kind === 'trap' ? 'ab' : trial.kind };
}
