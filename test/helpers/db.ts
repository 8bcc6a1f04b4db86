import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { type DbHandle, migrate, openDb } from '../../db/index.ts';
import { loadConfig } from '../../infra/index.ts';

/**
 * A fresh, empty database for one test file, on the driver the suite runs on: embedded
 * PGlite in memory by default, or, when DATABASE_URL is set, a new database created on that
 * server (and dropped again by `drop`), so test files never see each other's rows.
 */
export async function freshDatabase(): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  const serverUrl = loadConfig().databaseUrl;
  if (!serverUrl) return { url: undefined, drop: async () => {} };
  const name = `xtts_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export type TestDb = DbHandle & { url: string | undefined; dispose(): Promise<void> };

/** Opens (and by default migrates) a fresh database; `dispose` closes and drops it. */
export async function openTestDb(options: { migrated?: boolean } = {}): Promise<TestDb> {
  const fresh = await freshDatabase();
  const handle = await openDb({ databaseUrl: fresh.url, pgliteDir: 'memory://', maxConnections: 4 });
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
