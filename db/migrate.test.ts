import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { freshDatabase } from '../test/helpers/db.ts';
import { createApiKey, listApiKeys, migrate, openDb, readiness } from './index.ts';
import { appliedMigrationCount, expectedMigrations, rows } from './migrate.ts';

const tables = async (db: Parameters<typeof readiness>[0]) =>
  rows<{ t: string }>(
    await db.execute(
      sql`select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
    ),
  ).map((r) => r.t);

describe('migrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xtts-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('apply to an empty database and are a no-op on restart, keeping the data', async () => {
    const fresh = await freshDatabase();
    const open = () => openDb({ databaseUrl: fresh.url, pgliteDir: join(dir, 'pglite') });
    try {
      let handle = await open();
      assert.deepEqual(await tables(handle.db), [], 'the database starts empty');
      assert.equal((await readiness(handle.db)).ok, false, 'not ready before migrating');

      await migrate(handle, fresh.url);
      const expected = expectedMigrations().length;
      assert.ok(expected >= 1);
      assert.equal(await appliedMigrationCount(handle.db), expected);
      const created = await tables(handle.db);
      for (const t of ['api_keys', 'voices', 'checkpoints', 'trials', 'votes', 'promotions', 'jobs']) {
        assert.ok(created.includes(t), `table ${t} exists`);
      }
      await createApiKey(handle.db, { name: 'survivor', scope: 'admin' });
      await handle.close();

      // A restart: a new client on the same data, migrating again.
      handle = await open();
      await migrate(handle, fresh.url);
      assert.equal(await appliedMigrationCount(handle.db), expected, 'nothing re-applied');
      assert.deepEqual(await tables(handle.db), created);
      assert.deepEqual(
        (await listApiKeys(handle.db)).map((k) => k.name),
        ['survivor'],
      );
      assert.equal((await readiness(handle.db)).ok, true);
      await handle.close();
    } finally {
      await fresh.drop();
    }
  });

  it('serialises concurrent migrations of replicas starting together', async (t) => {
    const fresh = await freshDatabase();
    if (!fresh.url) {
      // One PGlite folder has one process by construction (api/local-admin.ts), so no replicas.
      t.skip('replicas share a Postgres server only');
      return;
    }
    const handles = await Promise.all([1, 2, 3].map(() => openDb({ databaseUrl: fresh.url })));
    try {
      await Promise.all(handles.map((h) => migrate(h, fresh.url)));
      assert.equal(await appliedMigrationCount(handles[0]!.db), expectedMigrations().length);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await fresh.drop();
    }
  });
});
