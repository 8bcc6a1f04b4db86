/**
 * The per-phase times behind INFERENCE_PROFILE: runs are counted and summed per phase, `timed` records
 * a run's duration and units (also when the timed work fails, it records nothing and rethrows), and
 * each line covers the interval since the last and starts the next from zero.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PHASE_SAMPLES, recordPhase, takePhases, timed } from './phase-times.ts';

describe('phase times', () => {
  it('sums runs per phase into one line, mean, max, share of the interval and units, then starts again', async () => {
    takePhases(1000);
    recordPhase('hifigan', 30, 64);
    recordPhase('hifigan', 10, 32);
    recordPhase('decode window', 250, 8);
    const r = await timed(
      'prefill',
      async () => 7,
      (x) => x,
    );
    assert.equal(r, 7);
    const line = takePhases(1000);
    assert.match(line, /^decode window 1 runs, mean 250\.0 ms, p95 250\.0 ms, max 250\.0 ms, busy 25%, 8 units; /);
    assert.match(line, /hifigan 2 runs, mean 20\.0 ms, p95 30\.0 ms, max 30\.0 ms, busy 4%, 96 units/);
    assert.match(line, /prefill 1 runs, mean \d+\.\d ms, p95 \d+\.\d ms, max \d+\.\d ms, busy \d+%, 7 units$/);
    assert.equal(takePhases(1000), '', 'nothing since the last line');
  });

  it("p95 is the nearest-rank 95th percentile of the interval's runs", () => {
    takePhases(1000);
    // 1..100 ms in a shuffled order: the 95th of 100 sorted is 95.
    const xs = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    for (const x of xs) recordPhase('window', x);
    assert.match(takePhases(1000), /^window 100 runs, mean 50\.5 ms, p95 95\.0 ms, max 100\.0 ms, busy 505%$/);
    // One run past the cap of kept samples still counts in runs, mean and max.
    for (let i = 0; i < PHASE_SAMPLES; i++) recordPhase('many', 1);
    recordPhase('many', 1000);
    assert.match(takePhases(1000), /^many 4097 runs, mean \d+\.\d ms, p95 1\.0 ms, max 1000\.0 ms/);
  });

  it('a failed run records nothing and its error reaches the caller', async () => {
    takePhases(1000);
    await assert.rejects(
      timed('prefill', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(takePhases(1000), '');
  });
});
