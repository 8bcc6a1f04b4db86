import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The module boundaries of the architecture, checked on the source: a boundary that only a
 * document states erodes one convenient import at a time.
 */
const root = new URL('..', import.meta.url).pathname;
const modules = ['api', 'inference', 'trainer', 'listening', 'voices', 'db', 'infra', 'test'] as const;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((p) => !p.split(sep).includes('node_modules') && !p.split(sep).includes('fixtures'));
}

const files = modules.flatMap((m) => sources(m));
const isTest = (f: string) => f.endsWith('.test.ts') || f.startsWith(`test${sep}`);
/** A source without its comments: a word in a comment is not a use. */
const codeOf = (f: string) =>
  readFileSync(join(root, f), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

/** The names a module's index.ts exports: `export { a, b as c, type T } from …`, `export const x` and `export * as ns from …`. */
function exportedNames(m: string): string[] {
  const src = codeOf(join(m, 'index.ts'));
  const names = new Set<string>();
  for (const block of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of (block[1] as string).split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  for (const d of src.matchAll(/export\s+(?:async\s+)?(?:function\*?|const|let|class|type|interface|enum)\s+(\w+)/g)) {
    names.add(d[1] as string);
  }
  for (const d of src.matchAll(/export\s+\*\s+as\s+(\w+)/g)) names.add(d[1] as string);
  return [...names];
}

const importsOf = (f: string) =>
  [...readFileSync(join(root, f), 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);

/**
 * The module whose public face a specifier of file `f` reaches from outside: another module's
 * index.ts, or test/helpers/, which other modules' tests may import directly.
 */
function faceOf(f: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const [mod, ...rest] = relative(root, join(root, f, '..', spec)).split(sep);
  if (!mod || mod === f.split(sep)[0] || !(modules as readonly string[]).includes(mod)) return undefined;
  if (rest.join('/') === 'index.ts' || (mod === 'test' && rest[0] === 'helpers')) return mod;
  return undefined;
}

/**
 * The names each module's face is imported by, from the files of the other modules:
 * `import { a, type B, c as d } from …`, `export { a } from …`, `const { a } = await import(…)`
 * and `(await import(…)).a`. `unread` lists the specifiers of faces imported in any other way,
 * so that a form this does not read fails the check rather than passing it.
 */
function importedFromFaces(): { names: Map<string, Set<string>>; unread: string[] } {
  const names = new Map(modules.map((m) => [m as string, new Set<string>()]));
  const unread: string[] = [];
  const imports =
    /(?:import|export)\s+(?:type\s+)?\{([^}]*)\}\s*from\s*(['"][^'"]+['"])|(?:const|let|var)\s*\{([^}]*)\}\s*=\s*await\s+import\(\s*(['"][^'"]+['"])\s*\)|\(\s*await\s+import\(\s*(['"][^'"]+['"])\s*\)\s*\)\s*\.\s*(\w+)/g;
  for (const f of files) {
    const src = codeOf(f);
    const read = new Set<number>();
    for (const m of src.matchAll(imports)) {
      const quoted = (m[2] ?? m[4] ?? m[5]) as string;
      const mod = faceOf(f, quoted.slice(1, -1));
      read.add((m.index as number) + m[0].lastIndexOf(quoted));
      if (!mod) continue;
      const list = m[1] ?? m[3];
      const imported =
        list === undefined
          ? [m[6] as string]
          : list.split(',').map((part) =>
              part
                .trim()
                .replace(/^type\s+/, '')
                .split(/\s+as\s+|\s*:\s*/)[0]
                ?.trim(),
            );
      for (const n of imported) if (n) names.get(mod)?.add(n);
    }
    for (const m of src.matchAll(/['"](\.[^'"]*)['"]/g)) {
      if (faceOf(f, m[1] as string) && !read.has(m.index as number)) unread.push(`${f}: ${m[1]}`);
    }
  }
  return { names, unread };
}

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

  it('one module reads model package manifests: inference/xtts/manifest.ts', () => {
    // The engine, voices/'s package registration and the benchmark all go through it; tests
    // may write fixture packages of their own. (Packages are written by the Python exporter in
    // trainer/xtts, which this TypeScript check does not read.)
    const readers = files.filter((f) => !isTest(f) && /manifest\.json/.test(codeOf(f)));
    assert.deepEqual(readers, [join('inference', 'xtts', 'manifest.ts')]);
  });

  it('one source of sampling defaults: inference/generation/config.ts', () => {
    // A sampling parameter given a number (`temperature: 0.7`, `topP ?? 0.9`, `.default(50)`)
    // anywhere else would be a second set of defaults: the API schema documents the config's
    // values, the engine takes unset ones from the model package, stimuli set only the seed.
    const names = 'temperature|top_?p|topP|topK|repetition_?penalty|repetitionPenalty|length_?penalty|lengthPenalty';
    const literal = new RegExp(`\\b(${names})\\b\\s*(:|=|\\?\\?)\\s*-?[0-9]`);
    const zodDefault = new RegExp(`\\b(${names}|top_k)\\s*:\\s*z\\b[^\\n]*\\.default\\(`);
    const topK = /\btop_k\b\s*(:|=|\?\?)\s*-?[0-9]/;
    // The pre-screen's top_k is how many checkpoints go on to listeners, not a sampling parameter.
    const prescreenRule = join('trainer', 'prescreen', 'rule.ts');
    const offenders = files.filter(
      (f) =>
        !isTest(f) &&
        f !== join('inference', 'generation', 'config.ts') &&
        ((f !== prescreenRule && topK.test(codeOf(f))) || literal.test(codeOf(f)) || zodDefault.test(codeOf(f))),
    );
    assert.deepEqual(offenders, []);
    assert.match(codeOf(join('inference', 'generation', 'config.ts')), /export const SAMPLING_DEFAULTS/);
    assert.match(codeOf(join('api', 'routes', 'speech.ts')), /SAMPLING_DEFAULTS\[/, 'the API documents them');
  });

  it('every top-level module has a README.md naming its public face (each export of its index.ts)', () => {
    for (const m of modules) {
      const readme = join(root, m, 'README.md');
      assert.ok(existsSync(readme), `${m}/README.md`);
      const text = readFileSync(readme, 'utf8');
      assert.match(text, new RegExp(`${m}/index\\.ts`), `${m}/README.md names ${m}/index.ts`);
      const exported = exportedNames(m);
      assert.ok(exported.length > 0, `${m}/index.ts exports something`);
      const missing = exported.filter((n) => !text.includes(`\`${n}\``));
      assert.deepEqual(missing, [], `${m}/README.md names every export of ${m}/index.ts`);
    }
  });

  it("a module's index.ts exports only what other modules import", () => {
    // A name no other module imports belongs inside the module (its own tests import the file
    // that defines it). test/index.ts counts what other modules' tests take from test/helpers/.
    const { names, unread } = importedFromFaces();
    assert.deepEqual(unread, [], 'imports of a public face in a form this check reads');
    const unused = modules.flatMap((m) =>
      exportedNames(m)
        .filter((n) => !names.get(m)?.has(n))
        .map((n) => `${m}/index.ts: ${n}`),
    );
    assert.deepEqual(unused, []);
  });

  it('voices/ never imports api/: the HTTP layer uses voices and checkpoints, not the other way round', () => {
    const offenders = files.filter(
      (f) =>
        f.startsWith(`voices${sep}`) &&
        importsOf(f).some(
          (spec) => spec.startsWith('.') && relative(root, join(root, f, '..', spec)).split(sep)[0] === 'api',
        ),
    );
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
