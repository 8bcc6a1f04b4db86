/**
 * What the worker-crash tests share (test/worker-crash.test.ts: a dataset build,
 * test/training-crash.test.ts: a training run): the job's Python process watched while two
 * workers (or two servers in turn) hold the job, the worker a fencing token names, a scratch
 * PostgreSQL database for the two workers, worker A claiming the job with worker B polling
 * beside it until it has waited out several lease periods (the job's process held meanwhile, so
 * that a fast machine cannot finish the job first), a server started on a DATA_DIR (and a second
 * one refused it), and the clean-up that leaves no process of the test behind.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { migrate, openDb } from '../../db/index.ts';
import { freshDatabase } from './db.ts';
import { type NodeProcess, processesWithArg, spawnNode, stopProcess, waitFor } from './worker-process.ts';

const HOST = hostname();

/** The worker process a fencing token (`host/pid/…/uuid`) belongs to. */
export const ownerPid = (token: string | null | undefined) => {
  if (!token) return undefined;
  const [host, pid] = token.split('/');
  return host === HOST ? Number(pid) : undefined;
};

/** SIGKILL, and nothing said if the process is already gone. */
function killQuietly(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * The end of a crash test: kills the processes it started, then any Python process of the job
 * still running (one left behind would be a failure already reported; it must not outlive the
 * test), runs the clean-ups last first and removes `tmp`.
 */
export async function cleanUpCrashTest(o: {
  started: NodeProcess[];
  spec: string;
  cleanups: Array<() => Promise<void>>;
  tmp: string;
}) {
  for (const p of o.started) await stopProcess(p, 'SIGKILL');
  if (o.spec) for (const p of processesWithArg(o.spec)) killQuietly(p.pid);
  for (const c of o.cleanups.reverse()) await c().catch(() => {});
  if (o.tmp) rmSync(o.tmp, { recursive: true, force: true });
}

/** A scratch database on the PostgreSQL server (DATABASE_URL), migrated; closed and dropped by `cleanups`. */
export async function scratchPostgres(cleanups: Array<() => Promise<void>>) {
  const fresh = await freshDatabase();
  cleanups.push(() => fresh.drop());
  const url = fresh.url as string;
  const handle = await openDb({ databaseUrl: url, maxConnections: 2 });
  cleanups.push(() => handle.close());
  await migrate(handle, url);
  return { url, db: handle.db };
}

/**
 * Runs `fn` with process `pid` held (SIGSTOP), and lets the process go on (SIGCONT) after it,
 * whatever `fn` did; undefined, without running `fn`, when the process had already ended.
 */
export async function whileHeld<T>(pid: number, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    return undefined; // it ended
  }
  try {
    return await fn();
  } finally {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // it ended
    }
  }
}

/**
 * A check for waitFor: true once worker B, polling the queue since `since`, has had more than
 * three lease periods in which it could (wrongly) have taken the job: A renewed its lease (the
 * job row's lease_until) more than three lease periods after `since`. Fails if A no longer holds
 * the job.
 */
export function bWaitedOut(
  readJob: () => Promise<{ lockedBy: string | null; leaseUntil: Date | null } | undefined>,
  a: NodeProcess,
  since: number,
  leaseMs: number,
) {
  return async (): Promise<true | undefined> => {
    const job = await readJob();
    assert.equal(ownerPid(job?.lockedBy), a.pid, 'A holds the job while B polls');
    return (job?.leaseUntil?.getTime() ?? 0) > since + 4 * leaseMs ? true : undefined;
  };
}

/**
 * Watches, every 100 ms, the Python processes of one job (`job_entry.py` processes whose command
 * line names its spec) and, where it can read the database, the job's fencing token. With
 * `ownChildren`, a process whose parent is one of them (a fork of the job's process) is part of
 * it and not counted; `what` names the process in the errors ('builder', 'trainer').
 */
export function watchJobProcesses(
  spec: string,
  o: { what: string; ownChildren?: boolean; readToken?: () => Promise<string | null | undefined> },
) {
  const seen = {
    maxProcesses: 0,
    /** Each of the job's processes, with the worker that started it (its parent when first seen). */
    processes: new Map<number, number>(),
    /** The owners of the job's token, in the order they held it. */
    owners: [] as number[],
    errors: [] as string[],
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const procs = processesWithArg(spec).filter((p) => p.cmdline.some((a) => a.endsWith('job_entry.py')));
      const mine = o.ownChildren ? procs.filter((p) => !procs.some((q) => q.pid === p.ppid)) : procs;
      seen.maxProcesses = Math.max(seen.maxProcesses, mine.length);
      if (mine.length > 1) {
        seen.errors.push(`two ${o.what}s at once: ${mine.map((b) => `${b.pid} (parent ${b.ppid})`).join(', ')}`);
      }
      for (const b of mine) if (!seen.processes.has(b.pid)) seen.processes.set(b.pid, b.ppid);
      if (o.readToken) {
        const owner = ownerPid(await o.readToken().catch(() => undefined));
        if (owner !== undefined && seen.owners.at(-1) !== owner) seen.owners.push(owner);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    seen,
    /** The job's processes started by the worker `workerPid`. */
    startedBy: (workerPid: number) => [...seen.processes].filter(([, ppid]) => ppid === workerPid).map(([pid]) => pid),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Worker A (`npm run worker` with `env`) started, and waited for until it holds the job (the
 * token `lockedBy` reads); then worker B started beside it, and waited for until it polls the
 * queue. Both are added to `started`; `logs` is the tail of both outputs.
 */
export async function workerAThenB(
  env: Record<string, string>,
  started: NodeProcess[],
  o: { job: string; lockedBy: () => Promise<string | null | undefined> },
) {
  const a = spawnNode(['api/worker.ts'], env);
  started.push(a);
  let b: NodeProcess | undefined;
  const logs = () => `A:\n${a.output().slice(-3000)}\nB:\n${b?.output().slice(-3000) ?? ''}`;
  const token = await waitFor(`worker A to claim the ${o.job}`, async () => (await o.lockedBy()) ?? undefined, {
    timeoutMs: 60_000,
    detail: logs,
  });
  assert.equal(ownerPid(token), a.pid, 'worker A holds the job');

  // B runs beside A from here on, polling the queue every second.
  b = spawnNode(['api/worker.ts'], env);
  started.push(b);
  const bp = b;
  await waitFor('worker B to start', () => (/job workers started/.test(bp.output()) ? true : undefined), {
    timeoutMs: 60_000,
    detail: logs,
  });
  return { a, b: bp, logs };
}

/**
 * `npm start` with `env` (PORT 0), added to `started`, once it listens: its URL and the local
 * admin's bearer header from the server's lock file in DATA_DIR (which must name this process).
 */
export async function startServer(env: Record<string, string> & { DATA_DIR: string }, started: NodeProcess[]) {
  const p = spawnNode(['api/server.ts'], env);
  started.push(p);
  const url = await waitFor(
    'the server to listen',
    () => {
      if (p.child.exitCode !== null) throw new Error(`the server exited (${p.child.exitCode}):\n${p.output()}`);
      return /listening on (http:\/\/\S+)/.exec(p.output())?.[1];
    },
    { timeoutMs: 90_000 },
  );
  const lock = JSON.parse(readFileSync(join(env.DATA_DIR, 'server.lock.json'), 'utf8')) as {
    pid: number;
    secret: string;
  };
  assert.equal(lock.pid, p.pid);
  return { p, url, auth: { Authorization: `Bearer ${lock.secret}` } };
}

/** The embedded database belongs to one process: a second server on the same DATA_DIR is refused. */
export async function assertSecondServerRefused(env: Record<string, string>, started: NodeProcess[]) {
  const rival = spawnNode(['api/server.ts'], env);
  started.push(rival);
  assert.equal(await rival.exited, 1, rival.output());
  assert.match(rival.output(), /in use by another server/);
}

/**
 * After the takeover: the job's process was never doubled, the job went from A to B once, each
 * started one process of it, and B ran the second attempt (never the first).
 */
export function assertHandedOver(
  watch: ReturnType<typeof watchJobProcesses>,
  a: NodeProcess,
  b: NodeProcess,
  what: { process: string; job: string },
) {
  assert.deepEqual(watch.seen.errors, []);
  assert.equal(watch.seen.maxProcesses, 1, `never two ${what.process}s of the ${what.job} at once`);
  assert.deepEqual(watch.seen.owners, [a.pid, b.pid], 'the job was held by A, then by B, never back and forth');
  assert.deepEqual(
    [...watch.seen.processes.values()],
    [a.pid, b.pid],
    `one ${what.process} started by A, then one by B`,
  );
  assert.match(b.output(), /"attempt":2[^\n]*"msg":"job started"/, 'B ran the second attempt');
  assert.doesNotMatch(b.output(), /"attempt":1[^\n]*"msg":"job started"/);
}
