// Runs the trainer's own Python tests (trainer/**/test_*.py, standard-library unittest) with the
// project's interpreter, the way the trainer runs: trainer/ as the top level and on PYTHONPATH, cwd the
// repository root. Fails with Python's output when a test fails or errors, or when none ran.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { childEnv } from '../infra/index.ts';
import { projectPythonReady, pythonBinary, repoRoot } from './model-package/python.ts';

test('the trainer’s Python unit tests pass', { timeout: 300_000 }, async (t) => {
  assert.ok(projectPythonReady(), 'no .venv/bin/python: run npm run setup:python first');
  const trainer = join(repoRoot, 'trainer');
  const args = ['-m', 'unittest', 'discover', '--start-directory', trainer, '--top-level-directory', trainer];
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(pythonBinary(), [...args, '--pattern', 'test_*.py', '-v'], {
      cwd: repoRoot,
      env: childEnv({ PYTHONPATH: trainer, PYTHONDONTWRITEBYTECODE: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, output }));
  });
  const ran = Number(/^Ran (\d+) tests? in ([\d.]+)s$/m.exec(output)?.[1] ?? 0);
  assert.equal(code, 0, `Python tests failed (exit ${code}):\n${output}`);
  assert.ok(ran > 0, `no Python test ran:\n${output}`);
  t.diagnostic(output.trim().split('\n').slice(-3).join(' | '));
});
