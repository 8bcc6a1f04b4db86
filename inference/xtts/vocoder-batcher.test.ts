/**
 * HiFi-GAN windows of several callers in one run (vocoder-batcher.ts over the tiny fixture's
 * hifigan_batch graph, on this CPU with buckets on): concurrent windows of different lengths, speakers
 * and speeds give each caller the samples its window gives alone through the batch-1 graph, runs carry
 * several windows of one bucket, rows are padded to a power of two, every shape can be warmed up, a bad
 * window is refused, and a package without the graph keeps the batch-1 path.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { maxAbsDiff } from '../../test/helpers/max-abs-diff.ts';
import { takePhases } from '../engine/phase-times.ts';
import { addTinyBatchGraph } from './tiny-graphs.ts';
import { PAD_FILL, RENDER_SLACK_MS, ROW_LATENTS, VocoderBatcher } from './vocoder-batcher.ts';
import { Xtts } from './xtts.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny', 'package');
const BUCKETS = [16, 32, 64];

describe('VocoderBatcher: HiFi-GAN windows of several callers in one run', () => {
  let dir: string;
  let batched: Xtts;
  let alone: Xtts;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xtts-vocoder-'));
    cpSync(fixture, join(dir, 'pkg'), { recursive: true });
    await addTinyBatchGraph(join(dir, 'pkg'), 'hifigan_batch');
    batched = await Xtts.load(join(dir, 'pkg'), {
      warmUp: false,
      hifiganBuckets: BUCKETS,
      vocoderBatch: { maxRows: 4 },
    });
    alone = await Xtts.load(join(dir, 'pkg'), { warmUp: false, hifiganBuckets: BUCKETS });
  });
  after(async () => {
    await batched?.release();
    await alone?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('opens the batcher only where asked for and the package has the graph', () => {
    assert.ok(batched.hifigan.batcher, 'batched');
    assert.equal(alone.hifigan.batcher, null);
  });

  it('concurrent windows get the samples each gets alone, in shared runs', async (t) => {
    const c = batched.pkg.manifest.model.config;
    const width = c.gpt_n_model_channels;
    // 100 and 150 are past the last bucket: multiples of 128, one shared session.
    const windows = [3, 16, 9, 14, 12, 30, 1, 5, 20, 100, 150].map((frames, i) => ({
      frames,
      latents: Float32Array.from({ length: frames * width }, (_, k) => Math.sin(k * 0.37 + i) * 0.8),
      speaker: Float32Array.from({ length: c.d_vector_dim }, (_, k) => Math.cos(k + i) * 0.3),
      speed: i === 4 ? 1.25 : 1,
    }));
    const want = [];
    for (const w of windows) want.push(await alone.hifigan.decode(w.latents, w.frames, width, w.speaker, w.speed));
    const before = batched.hifigan.batcher?.stats.runs ?? 0;
    const got = await Promise.all(
      windows.map((w) => batched.hifigan.decode(w.latents, w.frames, width, w.speaker, w.speed)),
    );
    let worst = 0;
    for (const [i, g] of got.entries()) {
      assert.equal(g.length, (want[i] as Float32Array).length, `window ${i}: sample count`);
      worst = Math.max(worst, maxAbsDiff(g, want[i] as Float32Array));
    }
    assert.ok(worst <= 1e-5, `samples max abs difference ${worst}`);
    const stats = batched.hifigan.batcher?.stats;
    assert.ok(stats);
    t.diagnostic(
      `samples max abs difference from the batch-1 graph ${worst}; runs by windows ${JSON.stringify(stats.sizes)}`,
    );
    assert.equal(stats.windows, windows.length);
    assert.ok(stats.runs - before < windows.length, `runs ${stats.runs} for ${windows.length} windows`);
    assert.ok(
      Object.keys(stats.sizes).some((n) => Number(n) > 1),
      `sizes ${JSON.stringify(stats.sizes)}`,
    );
  });

  it('a run of windows that nearly fill the next power of two of rows is padded to it, and each keeps its own samples', async () => {
    const c = batched.pkg.manifest.model.config;
    const width = c.gpt_n_model_channels;
    const b = batched.hifigan.batcher;
    assert.ok(b);
    // One window starts a run alone; the seven that come meanwhile (bucket 16) fill 7/8 of 8 rows: one run.
    const windows = [16, 9, 12, 16, 10, 15, 11, 13].map((frames, i) => ({
      frames,
      latents: Float32Array.from({ length: frames * width }, (_, k) => Math.sin(k * 0.21 + i) * 0.7),
      speaker: Float32Array.from({ length: c.d_vector_dim }, (_, k) => Math.cos(k * 1.3 + i) * 0.3),
    }));
    const want = [];
    for (const w of windows) want.push(await alone.hifigan.decode(w.latents, w.frames, width, w.speaker));
    const before = b.stats;
    const got = await Promise.all(windows.map((w) => batched.hifigan.decode(w.latents, w.frames, width, w.speaker)));
    const after = b.stats;
    assert.equal(after.runs - before.runs, 2, `runs by windows ${JSON.stringify(after.sizes)}`);
    assert.equal((after.sizes[7] ?? 0) - (before.sizes[7] ?? 0), 1, 'the seven in one run');
    assert.equal(after.padded - before.padded, 1, 'one padding row');
    for (const [i, g] of got.entries()) {
      assert.equal(g.length, (want[i] as Float32Array).length);
      assert.ok(maxAbsDiff(g, want[i] as Float32Array) <= 1e-5, `window ${i}`);
    }
  });

  it("warms every (bucket, rows) shape up to the bucket's rows", async () => {
    const b = batched.hifigan.batcher;
    assert.ok(b);
    assert.equal(b.maxRows, 4);
    const runs = b.stats.runs;
    assert.equal(
      await b.warmUp([16, 32], batched.pkg.manifest.model.config.d_vector_dim),
      11,
      'rows 1 to 32 of bucket 16, 1 to 16 of bucket 32 (as many latents as 4 rows of 128)',
    );
    assert.equal(b.stats.runs, runs, 'warm-up runs are not counted as windows');
  });

  it('refuses a window whose latents do not match its bucket', async () => {
    const b = batched.hifigan.batcher;
    assert.ok(b);
    await assert.rejects(b.run(16, new Float32Array(5), 3, new Float32Array(16)), /5 values for 16 latents/);
  });
});

/**
 * A stand-in for the batched graph's session: notes each run's bucket, rows and the first value of each
 * row's latents (a window's tag), and holds its first run until `release()`.
 */
function heldSession(width: number) {
  const runs: { fed: number; rows: number; tags: number[] }[] = [];
  let gate: (() => void) | null = null;
  const session = {
    path: 'fake',
    inputs: [],
    outputs: [],
    async run(feeds: Record<string, { dims: readonly number[]; data: Float32Array }>) {
      const [rows, fed] = (feeds.latents?.dims ?? []) as [number, number];
      const data = feeds.latents?.data as Float32Array;
      runs.push({ fed, rows, tags: Array.from({ length: rows }, (_, r) => data[r * fed * width] as number) });
      if (runs.length === 1) await new Promise<void>((ok) => (gate = ok));
      return { wav: { data: new Float32Array(rows * fed * 10) } };
    },
    release: async () => undefined,
  };
  const batcher = new VocoderBatcher(
    async () => session as never,
    width,
    (fed) => fed * 10,
    { maxRows: 4 },
  );
  const shapes = () => runs.map((r) => [r.fed, r.rows]);
  return { runs, shapes, batcher, release: () => (gate as unknown as () => void)() };
}

const win = (fed: number, width: number, tag = 0) => new Float32Array(fed * width).fill(tag);
const spk = new Float32Array(3);
const tick = () => new Promise((ok) => setImmediate(ok));

describe('VocoderBatcher order', () => {
  it('pads a run only where its windows fill 7/8 of the next power of two (PAD_FILL); padding rows are zeros', async () => {
    assert.equal(PAD_FILL, 7 / 8);
    const { runs, batcher: b, release } = heldSession(2);
    const first = b.run(16, win(16, 2, 1), 16, spk);
    await tick();
    // Seven windows wait behind the held run: 8 rows, the last a padding row.
    const seven = Array.from({ length: 7 }, (_, i) => b.run(16, win(16, 2, 10 + i), 16, spk));
    release();
    await Promise.all([first, ...seven]);
    assert.deepEqual(
      runs.map((r) => [r.fed, r.rows]),
      [
        [16, 1],
        [16, 8],
      ],
    );
    assert.deepEqual(runs[1]?.tags, [10, 11, 12, 13, 14, 15, 16, 0]);
    assert.equal(b.stats.padded, 1);
    // Six: the first runs alone (nothing in flight), the five that wait fill less than 7/8 of 8: a run of
    // 4, then the last.
    const six = Array.from({ length: 6 }, (_, i) => b.run(16, win(16, 2, 20 + i), 16, spk));
    await Promise.all(six);
    assert.deepEqual(
      runs.slice(2).map((r) => r.rows),
      [1, 4, 1],
    );
  });

  it("warms each bucket's shapes largest first (so a growing arena's later, smaller runs fit in what it freed)", async () => {
    const shapes: [number, number][] = [];
    const session = {
      path: 'fake',
      inputs: [],
      outputs: [],
      async run(feeds: Record<string, { dims: readonly number[] }>) {
        const [rows, fed] = (feeds.latents?.dims ?? []) as [number, number];
        shapes.push([fed, rows]);
        return { wav: { data: new Float32Array(rows * fed * 10) } };
      },
      release: async () => undefined,
    };
    const b = new VocoderBatcher(
      async () => session as never,
      1,
      (fed) => fed * 10,
      { maxRows: 2 },
    );
    assert.equal(await b.warmUp([64, 128], 3), 5);
    assert.deepEqual(shapes, [
      [64, 4],
      [64, 2],
      [64, 1],
      [128, 2],
      [128, 1],
    ]);
  });

  it('takes maxRows windows of ROW_LATENTS latents or more a run, and as many latents of shorter ones', async () => {
    const { shapes, batcher: b, release } = heldSession(1);
    assert.deepEqual(
      [16, 32, 48, 64, 127, 128, 256].map((fed) => b.rowsFor(fed)),
      [32, 16, 8, 8, 4, 4, 4],
    );
    // No more than the windows that can wait at once (a worker's streams), never below maxRows.
    const rows = (maxWindows: number, feds: number[]) => {
      const v = new VocoderBatcher(
        async () => ({}) as never,
        1,
        (fed) => fed,
        { maxRows: 4, maxWindows },
      );
      return feds.map((fed) => v.rowsFor(fed));
    };
    assert.deepEqual(rows(12, [16, 32, 64, 128]), [8, 8, 8, 4]);
    assert.deepEqual(rows(2, [16, 128]), [4, 4]);
    assert.equal(ROW_LATENTS, 128);
    const first = b.run(128, win(128, 1), 100, spk, performance.now() + 60_000);
    await tick();
    const rest = [
      ...Array.from({ length: 16 }, () => b.run(32, win(32, 1), 20, spk, performance.now() + 30_000)),
      ...Array.from({ length: 8 }, () => b.run(128, win(128, 1), 100, spk, performance.now() + 40_000)),
    ];
    release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(shapes(), [
      [128, 1],
      [32, 16],
      [128, 4],
      [128, 4],
    ]);
  });

  it("a stream's first window (due now) runs beside a run in flight, ahead of windows that waited longer", async () => {
    const { shapes, batcher: b, release } = heldSession(2);
    takePhases(1000);
    const first = b.run(64, win(64, 2), 50, spk);
    await tick();
    const older = [b.run(64, win(64, 2), 40, spk), b.run(64, win(64, 2), 30, spk), b.run(32, win(32, 2), 20, spk)];
    const urgent = b.run(32, win(32, 2), 16, spk, performance.now());
    await urgent;
    assert.deepEqual(
      shapes(),
      [
        [64, 1],
        [32, 1],
      ],
      'the first window ran alone while the first run was still in flight; the older windows, of its bucket too, wait for it',
    );
    release();
    await Promise.all([first, urgent, ...older]);
    assert.deepEqual(shapes(), [
      [64, 1],
      [32, 1],
      [64, 2],
      [32, 1],
    ]);
    // INFERENCE_PROFILE: each run by bucket with its rows as units, and the wait of the one window due
    // when it came.
    const line = takePhases(1000);
    assert.match(line, /vocoder run 64 2 runs, .*, 3 units/);
    assert.match(line, /vocoder run 32 2 runs, .*, 2 units/);
    assert.match(line, /vocoder due window: wait 1 runs, /);
  });

  it('the window due soonest goes first, whatever came first; its bucket takes its windows in order of deadline', async () => {
    const { runs, batcher: b, release } = heldSession(1);
    const now = performance.now();
    const first = b.run(64, win(64, 1, 0), 50, spk, now + 60_000);
    await tick();
    // Arrival order A, B, C, D; deadlines B < C < D < A; none due yet, so nothing runs beside the first.
    const later = [
      b.run(32, win(32, 1, 1), 20, spk, now + 50_000),
      b.run(64, win(64, 1, 2), 40, spk, now + 20_000),
      b.run(64, win(64, 1, 3), 40, spk, now + 30_000),
      b.run(32, win(32, 1, 4), 20, spk, now + 40_000),
    ];
    await new Promise((ok) => setTimeout(ok, 5));
    assert.equal(runs.length, 1, 'no run beside the first: no window is due');
    release();
    await Promise.all([first, ...later]);
    assert.deepEqual(
      runs.map((r) => ({ fed: r.fed, tags: r.tags })),
      [
        { fed: 64, tags: [0] },
        { fed: 64, tags: [2, 3] },
        { fed: 32, tags: [4, 1] },
      ],
    );
  });

  it("a window whose listener ran out of audio runs beside the run in flight; a render's waits its slack", async () => {
    const { shapes, batcher: b, release } = heldSession(1);
    const first = b.run(128, win(128, 1), 100, spk, performance.now() + 60_000);
    await tick();
    const render = b.run(64, win(64, 1), 60, spk);
    const late = b.run(64, win(64, 1), 60, spk, performance.now() - 50);
    await late;
    assert.deepEqual(
      shapes(),
      [
        [128, 1],
        [64, 1],
      ],
      "the late window ran beside the first; the render's (deadline a second away) did not join it",
    );
    release();
    await Promise.all([first, render]);
    assert.deepEqual(shapes().at(-1), [64, 1]);
    assert.ok(RENDER_SLACK_MS >= 100);
  });
});
