import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { childEnv } from '../infra/index.ts';
import { freshDatabase } from './helpers/db.ts';
import { spawnServer } from './helpers/process.ts';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);

type Started = { child: ChildProcess; url: string; output: () => string };

/**
 * A guard against a server that never becomes healthy, so the test fails instead of hanging;
 * not a speed target (a loaded machine may take long): `npm run bench:start` measures start time.
 */
const HANG_GUARD_MS = 180_000;

/** Starts the server as `npm start` does and waits until /healthz answers 200. */
async function start(env: Record<string, string>): Promise<Started> {
  const deadline = Date.now() + HANG_GUARD_MS;
  const late = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`server printed no URL in ${HANG_GUARD_MS} ms`)), HANG_GUARD_MS).unref(),
  );
  const server = await Promise.race([spawnServer(['api/server.ts'], { PORT: '0', LOG_LEVEL: 'warn', ...env }), late]);
  while (Date.now() < deadline) {
    const res = await fetch(`${server.url}/healthz`).catch(() => undefined);
    if (res?.status === 200) return server;
    await new Promise((r) => setTimeout(r, 50));
  }
  server.child.kill('SIGKILL');
  throw new Error(`server did not answer /healthz in ${HANG_GUARD_MS} ms:\n${server.output()}`);
}

async function stop(s: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  s.child.kill('SIGTERM');
  return exited;
}

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-start-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('answers /healthz, creates keys while running, and restarts on its data', async () => {
    const fresh = await freshDatabase();
    const env = { DATA_DIR: dataDir, ...(fresh.url ? { DATABASE_URL: fresh.url } : {}) };
    try {
      const first = await start(env);
      assert.match(first.output(), /npm run keys -- create --scope admin/, 'it says how to create the first key');

      const created = await run(
        process.execPath,
        ['api/cli/keys.ts', 'create', '--scope', 'admin', '--name', 'first'],
        {
          cwd: root,
          env: childEnv(env),
        },
      );
      const token = /(xvs_\S+)/.exec(created.stdout)?.[1];
      assert.ok(token, created.stdout);
      const keys = await fetch(`${first.url}/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(keys.status, 200);

      if (!fresh.url) {
        // The embedded database belongs to one process: a second server on it is refused.
        const second = await run(process.execPath, ['api/server.ts'], {
          cwd: root,
          env: childEnv(env),
        }).catch((e: { code: number; stderr: string }) => e);
        assert.notEqual((second as { code: number }).code ?? 0, 0);
        assert.match((second as { stderr: string }).stderr, /in use by another server/);
      }
      // A port already taken: a clear message, and the data folder left usable for the next start.
      const busyPort = new URL(first.url).port;
      const clash = await run(process.execPath, ['api/server.ts'], {
        cwd: root,
        env: childEnv({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'xtts-clash-')), PORT: busyPort }),
      }).catch((e: { code: number; stderr: string }) => e);
      assert.equal((clash as { code: number }).code, 1);
      assert.match((clash as { stderr: string }).stderr, /is in use \(another server\?\): stop it, or set PORT/);
      assert.equal(await stop(first), 0, 'a clean exit on SIGTERM');

      // Restart: migrations are a no-op and the key is still there.
      const again = await start(env);
      const ready = (await (await fetch(`${again.url}/readyz`)).json()) as { ok: boolean };
      assert.equal(ready.ok, true);
      const still = await fetch(`${again.url}/v1/keys`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(still.status, 200);
      assert.doesNotMatch(again.output(), /No admin API key yet/);
      await stop(again);
    } finally {
      await fresh.drop();
    }
  });
});
