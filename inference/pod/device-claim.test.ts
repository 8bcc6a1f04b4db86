import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { childEnv } from '../../infra/index.ts';
import { claimCudaDevice, DeviceClaimedError } from './device-claim.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'xtts-claim-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `args` with node in the repository and resolves with its exit code and output. */
function run(args: string[], env: Record<string, string>, onOutput?: (out: string) => void) {
  const child = spawn(process.execPath, args, { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer) => {
    out += d;
    onOutput?.(out);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, out })),
  );
  return { child, exited };
}

describe('one inference pod per GPU', () => {
  it('refuses a second claim on the same device with what to do instead, and allows it once released', async () => {
    const first = await claimCudaDevice(dir, '0', 'port 8000, 2 worker(s)');
    try {
      await assert.rejects(claimCudaDevice(dir, '0', 'port 8001'), (e) => {
        assert.ok(e instanceof DeviceClaimedError);
        assert.match(e.message, /CUDA device 0 on .* is already served by an inference pod \(pid \d+ on .*port 8000/);
        assert.match(e.message, /One pod per GPU/);
        assert.match(e.message, /INFERENCE_WORKERS/);
        return true;
      });
      const other = await claimCudaDevice(dir, 'GPU-1234-abcd', 'port 8001');
      other.release();
    } finally {
      first.release();
    }
    assert.equal(existsSync(first.path), false, 'released: the socket file is gone');
    (await claimCudaDevice(dir, '0', 'again')).release();
  });

  it('takes over the claim of a pod that was killed (the kernel closed its socket; its file stayed)', async () => {
    const code = `import { claimCudaDevice } from './inference/pod/device-claim.ts';
await claimCudaDevice(${JSON.stringify(dir)}, '7', 'doomed'); console.log('claimed'); setInterval(() => {}, 1000);`;
    let claimed!: () => void;
    const ready = new Promise<void>((resolve) => {
      claimed = resolve;
    });
    const holder = run(['--input-type=module', '-e', code], {}, (out) => {
      if (out.includes('claimed')) claimed();
    });
    await ready;
    await assert.rejects(claimCudaDevice(dir, '7', 'me'), DeviceClaimedError);
    holder.child.kill('SIGKILL');
    await holder.exited;
    assert.ok(existsSync(join(dir, 'xtts-pod-cuda-7.sock')), 'SIGKILL left the file behind');
    (await claimCudaDevice(dir, '7', 'me')).release();
  });

  it('`npm run pod` on a CUDA device that a pod already serves exits with the message, before loading anything', async () => {
    const held = await claimCudaDevice(dir, '3', 'port 8000, 1 worker(s)');
    try {
      const pod = run(['inference/pod/main.ts'], {
        PORT: '0',
        INFERENCE_DEVICE: 'cuda',
        INFERENCE_LOCK_DIR: dir,
        CUDA_VISIBLE_DEVICES: '3,4',
      });
      const { code, out } = await pod.exited;
      assert.equal(code, 1, out);
      assert.match(out, /inference pod not started: CUDA device 3 on .* is already served by an inference pod/);
      assert.match(out, /raise INFERENCE_STREAMS .* or INFERENCE_WORKERS/);
      assert.doesNotMatch(out, /listening on/);
    } finally {
      held.release();
    }
  });
});
