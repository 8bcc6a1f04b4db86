/**
 * Runs one trainer command (`python -m <module> <spec.json>`) for a job: its stdout is one
 * JSON event per line, handed to `onEvent` in order; stderr is kept (the tail) for the error.
 * Aborting the signal stops the process (SIGTERM, then SIGKILL); the process also exits by
 * itself when this one dies (trainer/job_entry.py watches its stdin).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { childEnv } from '../../infra/index.ts';
import { pythonBinary, repoRoot } from '../model-package/python.ts';

export type TrainerEvent = { event: string; [key: string]: unknown };

export type TrainerResult = {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last `error` event, if the command reported one. */
  error?: TrainerEvent;
  done?: TrainerEvent;
  stderrTail: string;
};

const STDERR_TAIL = 4000;

export function runTrainerCommand(
  module: string,
  args: readonly string[],
  opts: {
    signal?: AbortSignal;
    onEvent?: (e: TrainerEvent) => void | Promise<void>;
    env?: Record<string, string>;
    /** Processes to start with torchrun (one per GPU, DDP); 1 or unset runs one plain process. */
    processes?: number;
  },
): Promise<TrainerResult> {
  return new Promise((resolve, reject) => {
    const env = childEnv({ PYTHONPATH: join(repoRoot, 'trainer'), NODE: process.execPath, ...opts.env });
    const child = spawn(
      pythonBinary(),
      ['-u', '-W', 'ignore', join(repoRoot, 'trainer', 'job_entry.py'), module, ...args],
      {
        cwd: repoRoot,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let error: TrainerEvent | undefined;
    let done: TrainerEvent | undefined;
    // Events are handled one after another, so a handler's database writes stay in order.
    let chain: Promise<void> = Promise.resolve();
    let handlerError: unknown;
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: TrainerEvent;
      try {
        event = JSON.parse(line) as TrainerEvent;
      } catch {
        stderr = `${stderr}[stdout] ${line}\n`.slice(-STDERR_TAIL);
        return;
      }
      if (event.event === 'error') error = event;
      if (event.event === 'done') done = event;
      chain = chain.then(async () => {
        if (handlerError) return;
        try {
          await opts.onEvent?.(event);
        } catch (err) {
          handlerError = err;
          child.kill('SIGTERM');
        }
      });
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-STDERR_TAIL);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      killTimer.unref();
    };
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      chain.then(() => {
        if (handlerError) return reject(handlerError);
        resolve({ code, signal, stderrTail: stderr, ...(error ? { error } : {}), ...(done ? { done } : {}) });
      }, reject);
    });
  });
}

/**
 * The message for a trainer command that could not even import its modules: the Python
 * environment is missing or incomplete, which no retry fixes.
 */
export function missingPythonModule(stderrTail: string): string | undefined {
  // An import inside a module says ModuleNotFoundError with quotes; a missing module itself, ImportError.
  const m = /(?:ModuleNotFoundError|ImportError): No module named '?([\w.]+)'?/.exec(stderrTail);
  if (!m) return undefined;
  return `the trainer's Python environment lacks the module '${m[1]}': run \`npm run setup:python\` (or set PYTHON to an interpreter that has it)`;
}
