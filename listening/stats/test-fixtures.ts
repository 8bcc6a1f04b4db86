/** Hand-built statistics for testing decisions without running a fit. */
import type { BradleyTerrySummary } from './bootstrap.ts';
import type { HeadToHead } from './pairwise.ts';

export function summaryOf(
  rows: Array<[item: string, logStrength: number, low: number, high: number, votes: number]>,
): BradleyTerrySummary {
  return {
    fit: {
      items: rows.map((r) => r[0]),
      logStrength: rows.map((r) => r[1]),
      strength: rows.map((r) => Math.exp(r[1])),
      rawStrength: rows.map((r) => Math.exp(r[1])),
      iterations: 1,
      converged: true,
    },
    estimates: rows.map(([item, logStrength, low, high, votes]) => ({
      item,
      logStrength,
      strength: Math.exp(logStrength),
      ci: { low, high },
      probabilityBest: Number.NaN,
      votes,
    })),
    replicates: 1000,
    level: 0.95,
    seed: 'fixture',
    unit: 'vote',
  };
}

export function h2h(a: string, b: string, winsA: number, winsB: number, pHolm: number): HeadToHead {
  return a < b
    ? { a, b, winsA, winsB, ties: 0, p: pHolm, pHolm }
    : { a: b, b: a, winsA: winsB, winsB: winsA, ties: 0, p: pHolm, pHolm };
}
