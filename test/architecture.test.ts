import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The module boundaries of the architecture, checked on the source: a boundary that only a
 * document states erodes one convenient import at a time.
 */
const root = new URL('..', import.meta.url).pathname;
const modules = ['api', 'inference', 'trainer', 'listening', 'db', 'infra', 'test'] as const;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((p) => !p.split(sep).includes('node_modules') && !p.split(sep).includes('fixtures'));
}

const files = modules.flatMap((m) => sources(m));
const isTest = (f: string) => f.endsWith('.test.ts') || f.startsWith(`test${sep}`);
const importsOf = (f: string) =>
  [...readFileSync(join(root, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);

describe('architecture', () => {
  it('every top-level module has an index.ts', () => {
    for (const m of modules) assert.ok(files.includes(join(m, 'index.ts')), `${m}/index.ts`);
  });

  it('only infra/config.ts reads process.env (tests may pass it on to child processes)', () => {
    const readers = files.filter((f) => !isTest(f) && /process\.env\b/.test(readFileSync(join(root, f), 'utf8')));
    assert.deepEqual(readers, [join('infra', 'config.ts')]);
  });

  it('only inference/runtime imports onnxruntime-node', () => {
    const offenders = files.filter(
      (f) => !f.startsWith(join('inference', 'runtime') + sep) && importsOf(f).some((i) => i.startsWith('onnxruntime')),
    );
    assert.deepEqual(offenders, []);
  });

  it('only db/ imports database drivers', () => {
    const drivers = /^(postgres|@electric-sql\/pglite|drizzle-orm\/(pglite|postgres-js))/;
    const offenders = files.filter((f) => !f.startsWith(`db${sep}`) && importsOf(f).some((i) => drivers.test(i)));
    assert.deepEqual(offenders, []);
  });

  it('modules import each other only through their index.ts (tests may use test/helpers)', () => {
    const offenders: string[] = [];
    for (const f of files) {
      const own = f.split(sep)[0];
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) continue;
        const target = relative(root, join(root, f, '..', spec));
        const [mod, ...rest] = target.split(sep);
        if (!mod || mod === own || !(modules as readonly string[]).includes(mod)) continue;
        if (rest.join('/') === 'index.ts') continue;
        if (isTest(f) && mod === 'test' && rest[0] === 'helpers') continue;
        offenders.push(`${f} -> ${target}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
