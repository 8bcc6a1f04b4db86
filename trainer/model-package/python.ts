// Runs the trainer's Python side (model packaging, datasets, training) with trainer/ on
// PYTHONPATH. The interpreter is $PYTHON, else the project's environment (.venv, made by
// trainer/env/setup.sh from pinned versions), else the first python3 that can import torch.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv, loadConfig } from '../../infra/index.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let found: string | undefined;

export function pythonBinary(): string {
  const configured = loadConfig().python;
  if (configured) return configured;
  // Hosts often carry several interpreters (a distribution's, a virtual environment's) and only
  // one of them has torch: ask each once, and remember the answer.
  const venv = join(repoRoot, '.venv', 'bin', 'python');
  if (existsSync(venv)) return venv;
  found ??=
    ['/usr/bin/python3', 'python3'].find(
      (py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
    ) ?? 'python3';
  return found;
}

export interface PythonResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `python -m <module> ...args`; output is collected and, with echo, also passed through. */
export function runPython(module: string, args: readonly string[], echo = false): Promise<PythonResult> {
  return new Promise((done, fail) => {
    // trainer/ goes first on sys.path; the graph checker runs on this very node binary.
    const env = childEnv({ PYTHONPATH: join(repoRoot, 'trainer'), NODE: process.execPath });
    const child = spawn(pythonBinary(), ['-W', 'ignore', '-m', module, ...args], { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (echo) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (echo) process.stderr.write(d);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

/** Whether the project's own Python environment (.venv, `npm run setup:python`) exists. */
export const projectPythonReady = () => existsSync(join(repoRoot, '.venv', 'bin', 'python'));
