import type { Hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const src = new URL('../../trainer/xtts/', import.meta.url).pathname;

/**
 * Feeds every trainer/xtts Python source (its path and bytes, in a fixed order) into `h`: the part
 * of a cache key for anything built by the PyTorch modules or the exporter, so that a cached
 * model folder or exported package is rebuilt whenever one of them changes.
 */
export function hashTrainerXttsSources(h: Hash): Hash {
  for (const f of readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((n) => n.endsWith('.py'))
    .sort()) {
    h.update(f);
    h.update(readFileSync(join(src, f)));
  }
  return h;
}
