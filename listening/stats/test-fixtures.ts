/** Hand-built inputs for testing decisions without running a crowd. */
import type { PreferenceVote } from '../types.ts';
import type { BradleyTerryFit } from './bradley-terry.ts';

export function fitOf(rows: Array<[item: string, logStrength: number]>): BradleyTerryFit {
  return {
    items: rows.map((r) => r[0]),
    logStrength: rows.map((r) => r[1]),
    strength: rows.map((r) => Math.exp(r[1])),
    rawStrength: rows.map((r) => Math.exp(r[1])),
    iterations: 1,
    converged: true,
  };
}

/** `wins` votes for x and `losses` for y by one rater, x shown on the left and right in turn. */
export function raterVotes(raterId: string, x: string, y: string, wins: number, losses: number): PreferenceVote[] {
  const out: PreferenceVote[] = [];
  const base = { kind: 'ab' as const, raterId, sentenceId: 's', responseMs: 9000, audioMs: 7000 };
  for (let i = 0; i < wins + losses; i++) {
    const xWins = i < wins;
    const xLeft = i % 2 === 0;
    out.push({
      ...base,
      sentenceId: `s${i}`,
      left: xLeft ? x : y,
      right: xLeft ? y : x,
      choice: xWins === xLeft ? 'left' : 'right',
    });
  }
  return out;
}
