// Runs the Python side of model packaging (trainer/xtts) with trainer/ on PYTHONPATH. The
// interpreter is $PYTHON, else Debian's /usr/bin/python3 (which carries python3-torch), else python3.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function pythonBinary(): string {
  if (process.env.PYTHON) return process.env.PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface PythonResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `python -m <module> ...args`; output is collected and, with echo, also passed through. */
export function runPython(module: string, args: readonly string[], echo = false): Promise<PythonResult> {
  return new Promise((done, fail) => {
    const env = {
      ...process.env,
      PYTHONPATH: [join(repoRoot, 'trainer'), process.env.PYTHONPATH].filter(Boolean).join(':'),
      PYTHONWARNINGS: process.env.PYTHONWARNINGS ?? 'ignore',
      NODE: process.env.NODE ?? process.execPath,
    };
    const child = spawn(pythonBinary(), ['-m', module, ...args], { cwd: repoRoot, env });
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
