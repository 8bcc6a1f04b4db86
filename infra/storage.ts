/**
 * Where the studio's files live (recordings, built datasets, training runs): one interface, so
 * that an object-store backend can replace the local folder. Keys are relative, slash-separated
 * paths; the local backend maps them under its root and refuses any key that would leave it.
 * Writes are atomic: a file appears under its key only once it is complete.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface Storage {
  /** A local path for the key: the file itself here; an object-store backend would stage it. */
  localPath(key: string): string;
  /** Streams `body` to `key`, hashing as it goes; memory stays flat whatever the size. */
  write(key: string, body: Readable, opts?: { maxBytes?: number }): Promise<{ bytes: number; sha256: string }>;
  read(key: string): ReadStream;
  size(key: string): Promise<number | undefined>;
  /** Removes a key or everything under a prefix. */
  remove(keyOrPrefix: string): Promise<void>;
}

export class StorageError extends Error {
  override name = 'StorageError';
  readonly code: 'KEY_INVALID' | 'TOO_LARGE' | 'DISK_FULL';
  constructor(code: StorageError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export function localStorage(root: string): Storage {
  const base = resolve(root);
  const full = (key: string) => {
    const p = normalize(join(base, key));
    if (isAbsolute(key) || key.includes('\0') || (p !== base && !p.startsWith(base + sep))) {
      throw new StorageError('KEY_INVALID', `storage key ${JSON.stringify(key)} leaves the storage root`);
    }
    return p;
  };
  return {
    localPath: full,
    async write(key, body, opts = {}) {
      const target = full(key);
      await mkdir(dirname(target), { recursive: true });
      const tmp = `${target}.partial-${randomUUID()}`;
      const hash = createHash('sha256');
      let bytes = 0;
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
        if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
          body.destroy(new StorageError('TOO_LARGE', `larger than ${opts.maxBytes} bytes`));
        }
      });
      try {
        await pipeline(body, createWriteStream(tmp));
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        if (err instanceof StorageError) throw err;
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
          throw new StorageError('DISK_FULL', `no space left on the device storing ${key}`);
        }
        throw err;
      }
      return { bytes, sha256: hash.digest('hex') };
    },
    read: (key) => createReadStream(full(key)),
    async size(key) {
      try {
        return (await stat(full(key))).size;
      } catch {
        return undefined;
      }
    },
    async remove(keyOrPrefix) {
      await rm(full(keyOrPrefix), { recursive: true, force: true });
    },
  };
}
