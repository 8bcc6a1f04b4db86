import { createScratchDatabase, type DbHandle, migrate, openDb, pgliteTemplate } from '../../db/index.ts';
import { loadConfig } from '../../infra/index.ts';

/**
 * A fresh, empty database for one test file, on the driver the suite runs on: embedded
 * PGlite in memory by default, or, when DATABASE_URL is set, a new database created on that
 * server (and dropped again by `drop`), so test files never see each other's rows.
 */
export async function freshDatabase(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const serverUrl = loadConfig().databaseUrl;
  if (!serverUrl) return { url: undefined, drop: async () => {} };
  return createScratchDatabase(serverUrl);
}

/** Where the embedded pass keeps its initdb'd empty cluster between test files (see pgliteTemplate). */
const templateCache = new URL('../../node_modules/.cache/xtts-voice-studio/', import.meta.url).pathname;

export type TestDb = DbHandle & { url: string | undefined; dispose(): Promise<void> };

/** Opens (and by default migrates) a fresh database; `dispose` closes and drops it. */
export async function openTestDb(options: { migrated?: boolean } = {}): Promise<TestDb> {
  const fresh = await freshDatabase();
  const handle = await openDb({
    databaseUrl: fresh.url,
    pgliteDir: 'memory://',
    maxConnections: 4,
    // Every embedded test database starts as the same freshly initdb'd cluster; loading it skips initdb.
    ...(fresh.url ? {} : { pgliteTemplate: await pgliteTemplate(templateCache) }),
  });
  if (options.migrated ?? true) await migrate(handle, fresh.url);
  return {
    ...handle,
    url: fresh.url,
    dispose: async () => {
      await handle.close();
      await fresh.drop();
    },
  };
}

/**
 * For test files that touch no database (the Python trainer, the exporter): the suite runs twice
 * in CI, on PGlite and on Postgres, and these need to run once. Pass as `{ skip: EMBEDDED_PASS_ONLY }`.
 */
export const EMBEDDED_PASS_ONLY: string | false = loadConfig().databaseUrl
  ? 'touches no database: runs in the embedded-database pass'
  : false;

/**
 * For the whole-studio journeys through the HTTP API (test/training.e2e.test.ts,
 * test/listening.e2e.test.ts): their database work is the same on either database, and the
 * embedded pass already walks recordings → dataset → run → listening test → promotion twice, in a
 * browser (test/browser/journey.test.ts, desktop and phone), and the pre-screen on a real run
 * (test/prescreen.e2e.test.ts). So these run once, against the PostgreSQL server, as CI's second
 * pass does (`DATABASE_URL` set). Pass as `{ skip: POSTGRES_PASS_ONLY }`.
 */
export const POSTGRES_PASS_ONLY: string | false = loadConfig().databaseUrl
  ? false
  : 'runs against a PostgreSQL server (DATABASE_URL set, as in CI); the embedded pass walks the same journey in the browser';
