import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';

/** Where rendered and uploaded stimuli live; keys are the `audio_path` stored with each stimulus. */
export interface AudioStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
}

/** Files under `dir`, written atomically (temp file + rename) so a reader never sees half a clip. */
export function fileAudioStore(dir: string): AudioStore {
  const pathOf = (key: string) => {
    const p = normalize(join(dir, key));
    if (!p.startsWith(normalize(dir) + sep)) throw new Error(`audio key escapes the store: ${key}`);
    return p;
  };
  return {
    async put(key, bytes) {
      const p = pathOf(key);
      await mkdir(dirname(p), { recursive: true });
      // Unique per write: two uploads of the same clip at once must not share a temp file.
      const tmp = `${p}.${randomUUID()}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, p);
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}

/** For tests and throwaway servers: gone when the process ends. */
export function memoryAudioStore(): AudioStore {
  const files = new Map<string, Uint8Array>();
  return {
    put: async (key, bytes) => {
      files.set(key, bytes);
    },
    get: async (key) => files.get(key),
  };
}
