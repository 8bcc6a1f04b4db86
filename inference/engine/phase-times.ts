/**
 * Where a worker's time goes, phase by phase (GPT prefill, decode windows, HiFi-GAN), for the
 * `inference: times` log line that INFERENCE_PROFILE=SECONDS turns on (engine/worker.ts). Counters of
 * this thread, taken and reset by each line; recording costs a clock read and two additions.
 */
import { performance } from 'node:perf_hooks';

type Phase = { n: number; ms: number; units: number; maxMs: number; samples: number[] };

/**
 * Runs whose times a phase keeps per line for its p95 (the first ones of the interval; a burst's phases
 * come a few hundred a second at most, a decode window's a few hundred).
 */
export const PHASE_SAMPLES = 4096;

const phases = new Map<string, Phase>();

/** Adds one run of `name` that took `ms` and made `units` (codes, sequences...). */
export function recordPhase(name: string, ms: number, units = 0): void {
  let p = phases.get(name);
  if (!p) {
    p = { n: 0, ms: 0, units: 0, maxMs: 0, samples: [] };
    phases.set(name, p);
  }
  p.n++;
  p.ms += ms;
  p.units += units;
  p.maxMs = Math.max(p.maxMs, ms);
  if (p.samples.length < PHASE_SAMPLES) p.samples.push(ms);
}

/** Times `f` as one run of `name`. */
export async function timed<T>(name: string, f: () => Promise<T>, units?: (r: T) => number): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  recordPhase(name, performance.now() - t0, units ? units(r) : 0);
  return r;
}

/** The nearest-rank quantile q of xs (sorted in place). */
function quantile(xs: number[], q: number): number {
  xs.sort((a, b) => a - b);
  return xs[Math.max(0, Math.ceil(q * xs.length) - 1)] as number;
}

/**
 * One line for the interval since the last: per phase runs, mean, p95 and max ms, busy share, units. A run's
 * time is its caller's wait, from the call to the answer, the queue in front of it included (a batcher's,
 * libuv's pool): the mean is what a stream waits, not device time, and the busy share, the runs' times
 * summed over the interval, passes 100 % when runs overlap.
 */
export function takePhases(intervalMs: number): string {
  const parts: string[] = [];
  for (const [name, p] of [...phases.entries()].sort()) {
    if (p.n === 0) continue;
    parts.push(
      `${name} ${p.n} runs, mean ${(p.ms / p.n).toFixed(1)} ms, p95 ${quantile(p.samples, 0.95).toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms, busy ${((100 * p.ms) / intervalMs).toFixed(0)}%${p.units ? `, ${p.units} units` : ''}`,
    );
  }
  phases.clear();
  return parts.join('; ');
}

let memoryTrace: ((label: string) => void) | null = null;

/** Sets what traceMemory calls (the worker: a log line of the GPU's memory in use under INFERENCE_PROFILE). */
export function setMemoryTrace(f: ((label: string) => void) | null): void {
  memoryTrace = f;
}

/** Marks a point of loading (a session opened, a state allocated) for the memory trace, when one is set. */
export function traceMemory(label: string): void {
  memoryTrace?.(label);
}
