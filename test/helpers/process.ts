import { type ChildProcess, spawn } from 'node:child_process';
import { childEnv } from '../../infra/index.ts';

const root = new URL('../..', import.meta.url).pathname;

/**
 * Runs a server script of the project (`api/server.ts`, `inference/pod/main.ts`, …) in a node
 * process of its own and resolves with the URL it prints ("listening on http://…"); rejects
 * with its output if it exits first. `env` is added to this process's environment.
 */
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before listening:\n${out}`)));
  });
  return { url, child, output: () => out };
}
