import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/** The installed PGlite's version: a cluster made by one version is not handed to another. */
function pgliteVersion(): string {
  // The package's exports map does not expose package.json; it sits two folders above the entry.
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

const made = new Map<string, Promise<Blob>>();

/**
 * A freshly initialised, empty embedded cluster (what `initdb` makes, before any migration) as
 * PGlite's gzipped data-folder dump, for `openDb({ pgliteTemplate })`. initdb costs seconds of
 * CPU; loading the dump, under one. Made once per PGlite version and kept as a file in
 * `cacheDir` (written to a temporary name and renamed, so processes that race each write a
 * whole file and readers never see half of one).
 */
export function pgliteTemplate(cacheDir: string): Promise<Blob> {
  const file = join(cacheDir, `pglite-${pgliteVersion()}-initdb.tar.gz`);
  let pending = made.get(file);
  if (!pending) {
    pending = (async () => {
      if (existsSync(file)) return new Blob([readFileSync(file)]);
      const pg = await PGlite.create('memory://');
      const dump = await pg.dumpDataDir('gzip');
      await pg.close();
      mkdirSync(cacheDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, new Uint8Array(await dump.arrayBuffer()));
      renameSync(tmp, file);
      return dump;
    })();
    made.set(file, pending);
  }
  return pending;
}
