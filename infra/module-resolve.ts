/**
 * Loaded before the app with `node --import ./infra/module-resolve.ts` (`npm start`, `npm run worker`,
 * `npm run pod` and every test process): resolves drizzle-orm's imports of its own files without
 * node's package lookup.
 *
 * Node 24 classifies every resolved `.js` file by its package's package.json, and for each file it
 * deserializes that package.json's `exports` map again. drizzle-orm's map has 447 entries (179 KB)
 * and the studio loads a few hundred of its files, so importing `drizzle-orm/pg-core` took 0.55 s of
 * CPU, 0.06 s with this hook (measured on a 2-core machine; the app's import, 1.5-1.9 s -> 1.0-1.2 s).
 *
 * Only relative `.js` imports from drizzle-orm's own ESM files are answered here: their target is
 * the specifier resolved against the importing file (ESM imports name the file exactly), and their
 * format is the package's (`"type": "module"`); everything else, its package entry points and any
 * CommonJS file included, goes through node's own resolution.
 */
import { registerHooks } from 'node:module';

const DRIZZLE = '/node_modules/drizzle-orm/';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (
      parent?.includes(DRIZZLE) &&
      parent.endsWith('.js') &&
      specifier.endsWith('.js') &&
      (specifier.startsWith('./') || specifier.startsWith('../'))
    ) {
      return { url: new URL(specifier, parent).href, format: 'module', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
