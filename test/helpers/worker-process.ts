import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { childEnv } from '../../infra/index.ts';

const root = new URL('../..', import.meta.url).pathname;

export type NodeProcess = {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | NodeJS.Signals | null>;
};

/** Runs a script of the project (`api/worker.ts`, …) in a node process of its own; `env` is added to ours. */
export function spawnNode(args: string[], env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, args, { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  if (child.pid === undefined) throw new Error(`${args.join(' ')} did not start`);
  return { child, pid: child.pid, output: () => out, exited };
}

export type ProcInfo = { pid: number; ppid: number; state: string; cmdline: string[] };

/** Live processes (not zombies) whose command line has an argument containing `needle`, read from /proc. */
export function processesWithArg(needle: string): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!cmdline.some((a) => a.includes(needle))) continue;
      const info = procStat(Number(name));
      if (info && info.state !== 'Z') found.push({ pid: Number(name), ...info, cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Whether a process exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z';
}

function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state ?? '?', ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns a value other than undefined; fails with `what` (and `detail()`) after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs: number; everyMs?: number; detail?: () => string },
): Promise<T> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${opts.detail ? `\n${opts.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 200));
  }
}

/** Sends `signal` to a process we started, if it still runs, and waits for it to end. */
export async function stopProcess(p: NodeProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  await p.exited;
  clearTimeout(t);
}
