import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded database can be opened by one process only, so while a server holds it the
 * key CLI cannot open it too. The server therefore leaves a lock file in DATA_DIR (mode 0600)
 * naming its URL and a random local-admin secret; the CLI reads it and manages keys through
 * the running server. Whoever can read DATA_DIR can read the database anyway, so the file
 * grants nothing new. The same file stops a second server from opening the same folder.
 */
export type ServerLock = { pid: number; url: string; secret: string };

export const lockPath = (dataDir: string) => join(dataDir, 'server.lock.json');

export function readLock(dataDir: string): ServerLock | undefined {
  try {
    const lock = JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as ServerLock;
    return isAlive(lock.pid) ? lock : undefined;
  } catch {
    return undefined;
  }
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/** Takes the lock for this process; throws when a live server already holds it. */
export function takeLock(dataDir: string): { secret: string; publish(url: string): void; release(): void } {
  const held = readLock(dataDir);
  if (held && held.pid !== process.pid) {
    throw new DataDirInUseError(
      `DATA_DIR ${dataDir} is in use by another server (pid ${held.pid}, ${held.url}); stop it or set another DATA_DIR`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = `local_${randomBytes(32).toString('base64url')}`;
  const write = (url: string) =>
    writeFileSync(lockPath(dataDir), JSON.stringify({ pid: process.pid, url, secret } satisfies ServerLock), {
      mode: 0o600,
    });
  write('');
  return { secret, publish: write, release: () => rmSync(lockPath(dataDir), { force: true }) };
}

export function secretMatches(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
