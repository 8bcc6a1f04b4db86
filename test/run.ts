/**
 * The suite runner behind `npm run test:run`: node's test runner over every *.test.ts, longest files first.
 *
 *   node test/run.ts [--record] [--cpu] [FILE ...]
 *
 * `node --test` orders its files by name, so the slowest (the browser journey, the full-width
 * fidelity check, the end-to-end runs) could start last and run alone at the end while the other
 * slot idles. Here the files start in the order of their last measured durations
 * (test/durations.json), longest first, files without a measurement before all others (they may be
 * long), which keeps both slots busy to the end: longest-processing-time-first scheduling.
 *
 * Each file runs in its own process, as with `node --test`, `os.availableParallelism() + 1` at once
 * (at least 3), with a 30-minute limit per test. At the end it prints the slowest files and writes
 * every file's wall time to .data/test-durations.json; with --record, to test/durations.json too (the
 * longest of the recorded and the new time, so that a file skipped in one pass keeps the other's).
 * FILE arguments run just those files, in that order.
 */
import { globSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { record: { type: 'boolean', default: false }, cpu: { type: 'boolean', default: false } },
});

const MODULES = ['api', 'db', 'infra', 'inference', 'listening', 'trainer', 'test', 'voices'];
const found =
  positionals.length > 0
    ? positionals.map((f) => relative(root, resolve(f)))
    : MODULES.flatMap((m) => globSync(`${m}/**/*.test.ts`, { cwd: root, exclude: (p) => p.includes('node_modules') }));

const durationsFile = join(root, 'test', 'durations.json');
const known: Record<string, number> = (() => {
  try {
    return JSON.parse(readFileSync(durationsFile, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
})();
const files =
  positionals.length > 0
    ? found
    : [...found].sort((a, b) => (known[b] ?? Number.POSITIVE_INFINITY) - (known[a] ?? Number.POSITIVE_INFINITY));

// Every test file is a fresh process that loads the app's modules and, mostly, opens an embedded
// PGlite database, whose WebAssembly build V8 otherwise compiles twice (baseline, then optimised in
// the background) in each of them: CPU the suite spends again and again on a 2-core machine.
// Node's compile cache keeps the modules' compiled code between processes and runs
// (node_modules/.cache, like the suite's other caches), and the test processes run WebAssembly on
// the baseline compiler alone (tests measure behaviour, not database speed; benchmarks run without it).
process.env.NODE_COMPILE_CACHE ??= join(root, 'node_modules', '.cache', 'node-compile-cache');
// Every node process of the suite (test files and the servers and workers they start) resolves
// drizzle-orm's own files without node's package lookup (infra/module-resolve.ts: about 0.5 s of CPU
// per process that loads the app), as `npm start` does.
const resolveHook = `--import=${JSON.stringify(join(root, 'infra', 'module-resolve.ts'))}`;
if (!process.env.NODE_OPTIONS?.includes(resolveHook)) {
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, resolveHook].filter(Boolean).join(' ');
}

// --cpu: each test process reports its CPU seconds and its children's at exit (test/helpers/cpu-probe.ts).
const cpuDir = join(root, '.data', 'test-cpu');
if (args.cpu) {
  rmSync(cpuDir, { recursive: true, force: true });
  mkdirSync(cpuDir, { recursive: true });
  process.env.TEST_CPU_DIR = cpuDir;
}

// One file more than there are cores: many files wait part of their time (a browser playing clips in
// real time, a worker polling for jobs, a server starting), and a third file fills those gaps. On the
// 2-core machine, two at a time left the cores 20 % idle (1,318 s of CPU in 824 s); three at a time
// kept them 99 % busy. TEST_CONCURRENCY overrides it.
const concurrency = Number(process.env.TEST_CONCURRENCY) || Math.max(3, availableParallelism() + 1);
const started = Date.now();
const stream = run({
  files: files.map((f) => join(root, f)),
  concurrency,
  timeout: 1_800_000,
  execArgv: ['--liftoff-only', ...(args.cpu ? ['--import', join(root, 'test', 'helpers', 'cpu-probe.ts')] : [])],
});
// Any failure fails the run (a file that cannot load reports one too), as with `node --test`; a todo's does not.
stream.on('test:fail', (e) => {
  if (!e.todo) process.exitCode = 1;
});
// A file's own completion (named by its path) carries its wall time, from its start to its end.
const seconds = new Map<string, number>();
stream.on('test:complete', (e) => {
  if (e.file && e.name === e.file) seconds.set(relative(root, e.file), (e.details?.duration_ms ?? 0) / 1000);
});
stream.compose(spec).pipe(process.stdout);
await new Promise<void>((resolve) => stream.on('close', resolve));

const measured = Object.fromEntries(
  [...seconds].map(([f, s]) => [f, Math.round(s * 10) / 10] as const).sort((a, b) => b[1] - a[1]),
);
mkdirSync(join(root, '.data'), { recursive: true });
writeFileSync(join(root, '.data', 'test-durations.json'), `${JSON.stringify(measured, null, 2)}\n`);
// The suite runs twice in CI (embedded database, then PostgreSQL) and some files run in one pass only
// (skipped in the other in a second), so a file's recorded time is the longest of its passes.
if (args.record) {
  const merged = { ...known };
  for (const [f, t] of Object.entries(measured)) merged[f] = Math.max(t, known[f] ?? 0);
  const sorted = Object.fromEntries(Object.entries(merged).sort((a, b) => b[1] - a[1]));
  writeFileSync(durationsFile, `${JSON.stringify(sorted, null, 2)}\n`);
}
const total = (Date.now() - started) / 1000;
console.log(`\n${files.length} files in ${total.toFixed(0)} s; slowest:`);
for (const [f, s] of Object.entries(measured).slice(0, 8)) console.log(`  ${String(s).padStart(6)} s  ${f}`);

if (args.cpu) {
  const cpu = readdirSync(cpuDir)
    .map(
      (n) => JSON.parse(readFileSync(join(cpuDir, n), 'utf8')) as { file: string; self_s: number; children_s: number },
    )
    .map((c) => ({
      file: relative(root, c.file),
      self: c.self_s,
      children: c.children_s,
      total: c.self_s + c.children_s,
    }))
    .sort((a, b) => b.total - a.total);
  const sum = cpu.reduce((s, c) => s + c.total, 0);
  writeFileSync(join(root, '.data', 'test-cpu.json'), `${JSON.stringify(cpu, null, 2)}\n`);
  console.log(`\nCPU: ${sum.toFixed(0)} s over ${cpu.length} processes (.data/test-cpu.json); the most:`);
  for (const c of cpu.slice(0, 15)) {
    console.log(
      `  ${c.total.toFixed(1).padStart(6)} s  (own ${c.self.toFixed(1)}, children ${c.children.toFixed(1)})  ${c.file}`,
    );
  }
}
