/**
 * How long `npm start` takes until /healthz answers 200: on an empty DATA_DIR (the embedded
 * database is created and migrated) and again on the same folder (migrations are a no-op),
 * against a baseline measured in the same run on the same machine: a bare `node` process that
 * prints and exits. The target is 10 s for the first start; the figures, not a test, say
 * whether a machine meets it (a loaded machine can miss any wall-clock limit).
 *
 *   npm run bench:start [-- --runs N]      (N starts of each kind, default 3; medians printed)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnServer } from '../helpers/process.ts';

const TARGET_MS = 10_000;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number(values.runs));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;

/** The baseline: a node process that starts, prints one line and exits. */
function bareNode(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', 'console.log("listening")'], (err) =>
      err ? reject(err) : resolve(performance.now() - t0),
    ),
  );
}

/** Starts the server on `dataDir` and returns the milliseconds until /healthz answered 200. */
async function startToHealthy(dataDir: string): Promise<number> {
  const t0 = performance.now();
  const server = await spawnServer(['api/server.ts'], { DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' });
  try {
    for (;;) {
      const res = await fetch(`${server.url}/healthz`).catch(() => undefined);
      if (res?.status === 200) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await exited;
  }
}

const bare: number[] = [];
const first: number[] = [];
const again: number[] = [];
for (let i = 0; i < runs; i++) {
  bare.push(await bareNode());
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-bench-start-'));
  try {
    first.push(await startToHealthy(dataDir));
    again.push(await startToHealthy(dataDir));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const b = median(bare);
const row = (what: string, xs: number[]) =>
  console.log(
    `${what.padEnd(34)} ${median(xs).toFixed(0).padStart(6)} ms  (${(median(xs) / b).toFixed(1)}× bare node)`,
  );
console.log(`npm start until /healthz answers 200, median of ${runs}:`);
row('bare node process (baseline)', bare);
row('first start, empty DATA_DIR', first);
row('restart on the same DATA_DIR', again);
const met = median(first) <= TARGET_MS;
console.log(`target: first start within ${TARGET_MS / 1000} s: ${met ? 'met' : 'MISSED'}`);
process.exitCode = met ? 0 : 1;
