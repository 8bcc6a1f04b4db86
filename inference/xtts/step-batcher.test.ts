/**
 * The step batcher (continuous batching in windows of a few steps), first over a scripted driver:
 * a call that arrives while a long one runs joins the next window and is answered first, a stop
 * code answers a call early, a window never runs more than windowSteps steps or maxBatch members,
 * a released sequence is dropped from the driver and its open call refused, and a join the driver
 * refuses fails only that call. Then over the tiny fixture's fixed-shape step (StaticGpt through the
 * native addon, on this CPU): staggered generations with prefetch, chunk schedules of their own and
 * a cancellation get exactly the codes each gets alone through the batch-1 graph.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TINY_SETTINGS, tinySentenceIds } from '../../test/helpers/tiny.ts';
import { takePhases } from '../engine/phase-times.ts';
import { StaticGpt } from '../native/static.ts';
import type { BatchedDriver } from './decode-batcher.ts';
import { generateCodes, UniformSource } from './generate.ts';
import type { DecodeResult, DecodeSettings, GptKvCache } from './gpt.ts';
import { StepBatcher } from './step-batcher.ts';
import { tinyCondLatent } from './tiny-graphs.ts';
import { Xtts } from './xtts.ts';

const settings: DecodeSettings = { temperature: 1, topK: 1, topP: 1, repetitionPenalty: 1 };
const STOP = 999;
const tick = () => new Promise<void>((ok) => setImmediate(ok));

/**
 * A driver whose member k makes codes k*100 + position (position counted over all its calls), and
 * the stop code at position `stopAt`; it records every window's members and their step counts.
 */
function scripted(stopAt: Record<string, number> = {}, refuse = new Set<string>(), slots = Number.POSITIVE_INFINITY) {
  const members = new Map<number, { name: string; k: number; pos: number }>();
  const windows: { ids: number[]; steps: number[] }[] = [];
  const dropped: string[] = [];
  let next = 1;
  const driver: BatchedDriver = {
    join(cache) {
      const name = (cache as unknown as { name: string }).name;
      if (refuse.has(name)) throw new Error(`no slot for ${name}`);
      if (members.size >= slots) throw Object.assign(new Error('every slot is taken'), { code: 'ERR_STATIC_FULL' });
      const id = next++;
      members.set(id, { name, k: Number(name.slice(1)), pos: 0 });
      return id;
    },
    async decode(requests) {
      windows.push({ ids: requests.map((r) => r.id), steps: requests.map((r) => r.uniforms.length) });
      await tick();
      const out = new Map<number, DecodeResult>();
      for (const r of requests) {
        const m = members.get(r.id);
        if (!m) throw new Error(`unknown member ${r.id}`);
        const codes: number[] = [];
        for (let i = 0; i < r.uniforms.length; i++) {
          const stop = m.pos === stopAt[m.name];
          codes.push(stop ? STOP : m.k * 100 + m.pos);
          m.pos++;
          if (stop) break;
        }
        out.set(r.id, { codes, latents: Float32Array.from(codes, (c) => c / 2), width: 1 });
      }
      return out;
    },
    has: (id) => members.has(id),
    drop(id) {
      dropped.push(members.get(id)?.name ?? '?');
      members.delete(id);
    },
  };
  return { driver, windows, dropped, members };
}

const cache = (name: string) => ({ name }) as unknown as GptKvCache;

describe('StepBatcher over a scripted driver', () => {
  it('with prefillFirst, a window waits for the prompt passes in flight, at most waitMs', async () => {
    let inFlight = 1;
    let idle: () => void = () => {};
    const prefills = {
      get prefillsInFlight() {
        return inFlight;
      },
      prefillsIdle: () => new Promise<void>((ok) => (idle = ok)),
    };
    const s = scripted();
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 4, prefillFirst: { waitMs: 60_000, prefills } });
    const one = b.decode(cache('s1'), new Float32Array(4), settings);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(s.windows.length, 0, 'no window while a prompt pass is in flight');
    inFlight = 0;
    idle();
    assert.equal((await one).codes.length, 4);
    assert.equal(s.windows.length, 1);
    // A pass that never ends holds a window waitMs at most.
    inFlight = 1;
    const held = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 4, prefillFirst: { waitMs: 30, prefills } });
    const t0 = performance.now();
    const two = await held.decode(cache('s2'), new Float32Array(4), settings);
    const waited = performance.now() - t0;
    assert.equal(two.codes.length, 4);
    assert.ok(waited >= 25 && waited < 5000, `waited ${waited} ms`);
    // No pass in flight: no wait at all.
    inFlight = 0;
    const t1 = performance.now();
    await held.decode(cache('s3'), new Float32Array(4), settings);
    assert.ok(performance.now() - t1 < 25);
  });

  it("records each sequence's first window once (INFERENCE_PROFILE): its wait from the call, then the window", async () => {
    const s = scripted();
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 4, maxBatch: 8 });
    takePhases(1000);
    // s1 decodes in two calls (its second is no join); s2 joins in the window after s1's first.
    const s1 = cache('s1');
    const one = b.decode(s1, new Float32Array(6), settings);
    await tick();
    const two = b.decode(cache('s2'), new Float32Array(3), settings);
    await Promise.all([one, two]);
    await b.decode(s1, new Float32Array(4), settings);
    const line = takePhases(1000);
    assert.match(line, /first window: run 2 runs, /);
    assert.match(line, /first window: wait 2 runs, /);
    assert.match(line, /decode window 4 runs, .*, 13 units/);
  });

  it('a call arriving during a long one joins the next window and is answered first', async () => {
    const s = scripted();
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 4, maxBatch: 8 });
    const order: string[] = [];
    const long = b.decode(cache('s1'), new Float32Array(40), settings).then((r) => {
      order.push('long');
      return r;
    });
    await tick();
    await tick();
    // Windows started before s2 calls (the last of them still running).
    const started = s.windows.length;
    assert.ok(started >= 1);
    const short = b.decode(cache('s2'), new Float32Array(6), settings).then((r) => {
      order.push('short');
      return r;
    });
    const [l, sh] = await Promise.all([long, short]);
    assert.deepEqual(order, ['short', 'long']);
    assert.deepEqual(
      l.codes,
      Array.from({ length: 40 }, (_, i) => 100 + i),
    );
    assert.deepEqual(sh.codes, [200, 201, 202, 203, 204, 205]);
    assert.deepEqual(Array.from(sh.latents), [100, 100.5, 101, 101.5, 102, 102.5]);
    assert.ok(
      s.windows.every((w) => w.steps.every((n) => n <= 4)),
      'no window asks more than windowSteps',
    );
    // s2 is in the window after the one running when it called, not after s1's 40 codes.
    assert.equal(
      s.windows.findIndex((w) => w.ids.length === 2),
      started,
    );
    assert.equal(b.stats.runs, s.windows.length);
    assert.equal(b.stats.largest, 2);
  });

  it('cutting a call into windows changes no code, and the stop code answers a call early', async () => {
    const s = scripted({ s3: 13 });
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 5 });
    const c3 = cache('s3');
    const first = await b.decode(c3, new Float32Array(7), settings);
    const second = await b.decode(c3, new Float32Array(20), settings);
    assert.deepEqual(first.codes, [300, 301, 302, 303, 304, 305, 306]);
    assert.deepEqual(second.codes, [307, 308, 309, 310, 311, 312, STOP]);
    assert.equal(second.latents.length, 7);
  });

  it("a stop code on a window's last step answers the call (no step after it)", async () => {
    const s = scripted({ s3: 11 });
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 5 });
    const c3 = cache('s3');
    assert.deepEqual((await b.decode(c3, new Float32Array(7), settings)).codes, [300, 301, 302, 303, 304, 305, 306]);
    // Positions 7..11 make the next window of 5, the stop code its last.
    const second = await b.decode(c3, new Float32Array(20), settings);
    assert.deepEqual(second.codes, [307, 308, 309, 310, STOP]);
    assert.equal(s.windows.length, 3, 'no window after the stop');
  });

  it('a sequence with no free slot waits for a release, without windows in between', async () => {
    const s = scripted({}, new Set(), 1);
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 2 });
    const c1 = cache('s1');
    const first = await b.decode(c1, new Float32Array(6), settings);
    assert.deepEqual(first.codes, [100, 101, 102, 103, 104, 105]);
    let done = false;
    const waiting = b.decode(cache('s2'), new Float32Array(3), settings).then((r) => {
      done = true;
      return r;
    });
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(done, false, 's2 waits: s1 holds the only slot');
    assert.equal(s.windows.length, 3, 'no window while nothing can run');
    b.release(c1);
    assert.deepEqual((await waiting).codes, [200, 201, 202]);
    assert.equal(s.windows.length, 5);
  });

  it('never runs more than maxBatch members in a window; the others wait their turn', async () => {
    const s = scripted();
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 2, maxBatch: 2 });
    const names = ['s1', 's2', 's3', 's4', 's5'];
    const got = await Promise.all(names.map((n) => b.decode(cache(n), new Float32Array(3), settings)));
    for (const [i, r] of got.entries())
      assert.deepEqual(
        r.codes,
        [0, 1, 2].map((p) => (i + 1) * 100 + p),
      );
    assert.ok(
      s.windows.every((w) => w.ids.length <= 2),
      JSON.stringify(s.windows),
    );
  });

  it('release refuses the open call and drops the member; a refused join fails only its call', async () => {
    const s = scripted({}, new Set(['s9']));
    const b = new StepBatcher(s.driver, { stopCode: STOP, windowSteps: 2 });
    const c1 = cache('s1');
    const a = b.decode(c1, new Float32Array(50), settings);
    const refused = b.decode(cache('s9'), new Float32Array(3), settings);
    const ok = b.decode(cache('s2'), new Float32Array(3), settings);
    await assert.rejects(refused, /no slot for s9/);
    assert.deepEqual((await ok).codes, [200, 201, 202]);
    b.release(cache('s1')); // another object: not a sequence here, nothing happens
    assert.deepEqual(s.dropped, []);
    b.release(c1);
    await assert.rejects(a, /released while waiting/);
    assert.deepEqual(s.dropped, ['s1']);
    const windows = s.windows.length;
    await tick();
    await tick();
    assert.equal(s.windows.length, windows, 'no window after the last call went');
    assert.equal(b.sequences, 1, 's2 is still a member (it was not released)');
  });
});

const root = join(import.meta.dirname, '..', '..');
const staticGraph = join(root, 'test', 'fixtures', 'tiny', 'batch', 'gpt_step_static_fp32.onnx');
const addon = join(root, 'inference', 'native', 'build', 'ort_device.node');
const skip = spawnSync(process.env.CXX ?? 'g++', ['--version']).error
  ? 'no C++ compiler on PATH'
  : !existsSync(staticGraph)
    ? `no ${staticGraph}`
    : false;

describe('StepBatcher over the tiny fixed-shape step (StaticGpt)', { skip }, () => {
  let x: Xtts;
  let ids: number[][];
  const cond = tinyCondLatent();
  const SETTINGS = TINY_SETTINGS;
  before(async () => {
    if (!existsSync(addon)) spawnSync('bash', [join(root, 'inference', 'native', 'build.sh')], { stdio: 'inherit' });
    x = await Xtts.load(join(root, 'test', 'fixtures', 'tiny', 'package'), { warmUp: false });
    ids = tinySentenceIds(x);
  });
  after(() => x?.release());

  /** Sentence k's codes, run by run, with the chunk schedule `runs` and prefetch as the stream uses it. */
  async function codes(
    gpt: typeof x.gpt,
    k: number,
    runs: (i: number) => number,
    prefetch: boolean,
    stopAfter = Number.POSITIVE_INFINITY,
    prefetchFirst?: () => boolean,
    events?: string[],
  ): Promise<number[][]> {
    const out: number[][] = [];
    // `events`: each decode call and each run handed to the consumer, in order.
    const traced = events
      ? (new Proxy(gpt, {
          get: (target, key, receiver) =>
            key === 'decode'
              ? (...a: Parameters<typeof gpt.decode>) => {
                  events.push('decode');
                  return target.decode(...a);
                }
              : Reflect.get(target, key, receiver),
        }) as typeof gpt)
      : gpt;
    for await (const run of generateCodes(traced, cond, ids[k] as number[], {
      settings: SETTINGS[k] as DecodeSettings,
      rng: new UniformSource(100 + k),
      runCodes: runs,
      maxCodes: 60,
      babbleGuard: null,
      prefetch,
      ...(prefetchFirst ? { prefetchFirst } : {}),
    })) {
      events?.push('run');
      out.push(run.codes);
      // The consumer's own work between runs (HiFi-GAN in the engine).
      await new Promise((ok) => setTimeout(ok, 1 + k));
      if (out.length >= stopAfter) break;
    }
    return out;
  }

  it('staggered generations with prefetch get exactly the codes each gets alone through the batch-1 graph', async () => {
    const schedules = [(i: number) => 3 + i, () => 5, (i: number) => (i % 2 ? 2 : 7), () => 4];
    const alone = [];
    for (let k = 0; k < 4; k++) alone.push(await codes(x.gpt, k, schedules[k] as (i: number) => number, false));
    const g = StaticGpt.open(staticGraph, { slots: 4, maxLen: 200, chunk: 6 }, { threads: 1 });
    try {
      const b = new StepBatcher(g, { stopCode: x.gpt.stopCode, windowSteps: 3, maxBatch: 4 });
      const together = await Promise.all(
        [0, 1, 2, 3].map(async (k) => {
          await new Promise((ok) => setTimeout(ok, 7 * k));
          const [got] = await collectAll(
            b.generate(x.gpt, (gpt) => oneShot(codes(gpt, k, schedules[k] as (i: number) => number, true))),
          );
          return got;
        }),
      );
      for (let k = 0; k < 4; k++) {
        assert.deepEqual(together[k], alone[k], `sentence ${k}: same runs, same codes`);
      }
      assert.ok(b.stats.largest >= 2, `windows by size ${JSON.stringify(b.stats.sizes)}`);
      assert.equal(b.sequences, 0, 'every sequence released');
      assert.equal(g.size, 0, 'every slot free');
    } finally {
      await g.close();
    }
  });

  it('asks for the second run before the first is vocoded while others decode, with the same codes', async () => {
    const schedules = [() => 4, () => 5, () => 3];
    const alone = [];
    for (let k = 0; k < 3; k++) alone.push(await codes(x.gpt, k, schedules[k] as (i: number) => number, false));
    const g = StaticGpt.open(staticGraph, { slots: 3, maxLen: 200, chunk: 6 }, { threads: 1 });
    try {
      const b = new StepBatcher(g, { stopCode: x.gpt.stopCode, windowSteps: 2, maxBatch: 3 });
      const events: string[][] = [[], [], []];
      const asked: boolean[][] = [[], [], []];
      const together = await Promise.all(
        [0, 1, 2].map(async (k) => {
          const [got] = await collectAll(
            b.generate(x.gpt, (gpt) =>
              oneShot(
                codes(
                  gpt,
                  k,
                  schedules[k] as (i: number) => number,
                  true,
                  Number.POSITIVE_INFINITY,
                  () => {
                    const shared = b.sequences > 1;
                    (asked[k] as boolean[]).push(shared);
                    return shared;
                  },
                  events[k],
                ),
              ),
            ),
          );
          return got;
        }),
      );
      for (let k = 0; k < 3; k++) {
        assert.deepEqual(together[k], alone[k], `sentence ${k}: same runs, same codes`);
        if ((alone[k] as number[][]).length > 1 && asked[k]?.[0])
          assert.deepEqual(events[k]?.slice(0, 3), ['decode', 'decode', 'run'], `sentence ${k}: ${events[k]}`);
      }
      assert.ok(
        asked.some((a) => a[0] === true),
        `at least one first run ended beside another sequence: ${JSON.stringify(asked)}`,
      );
      assert.equal(g.size, 0, 'every slot free');
    } finally {
      await g.close();
    }
    // Alone, the first run's audio comes first: the second run is asked for after it.
    const lone: string[] = [];
    await codes(
      x.gpt,
      0,
      () => 4,
      true,
      Number.POSITIVE_INFINITY,
      () => false,
      lone,
    );
    assert.deepEqual(lone.slice(0, 3), ['decode', 'run', 'decode']);
  });

  it('a generation that stops early (cancelled) frees its slot and leaves the others their codes', async () => {
    const alone = await codes(x.gpt, 2, () => 5, false);
    const g = StaticGpt.open(staticGraph, { slots: 2, maxLen: 200, chunk: 6 }, { threads: 1 });
    try {
      const b = new StepBatcher(g, { stopCode: x.gpt.stopCode, windowSteps: 2, maxBatch: 2 });
      const [cut, whole] = await Promise.all([
        collectAll(b.generate(x.gpt, (gpt) => oneShot(codes(gpt, 0, () => 4, true, 1)))),
        collectAll(b.generate(x.gpt, (gpt) => oneShot(codes(gpt, 2, () => 5, true)))),
      ]);
      assert.equal((cut[0] as number[][]).length, 1);
      assert.deepEqual(whole[0], alone);
      assert.equal(g.size, 0);
    } finally {
      await g.close();
    }
  });
});

/** A generator of one value: the promise's. */
async function* oneShot<T>(p: Promise<T>): AsyncGenerator<T, void, void> {
  yield await p;
}

async function collectAll<T>(g: AsyncGenerator<T, void, void>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of g) out.push(v);
  return out;
}
