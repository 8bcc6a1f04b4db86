import { sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { isDatabaseUnavailable } from './errors.ts';
import { appliedMigrationCount, expectedMigrations } from './migrate.ts';

export type Readiness = { ok: boolean; database: 'up' | 'down'; migrations: { applied: number; expected: number } };

/**
 * Whether the database answers and is migrated. A pooled connection the server dropped fails
 * once before the driver replaces it, so a connection-level failure is tried again (a few
 * times: each pooled connection may be stale) before the answer is "down"; while the server is
 * really away every try fails at once (refused), so this stays quick.
 */
export async function readiness(db: Db, opts: { timeoutMs?: number } = {}): Promise<Readiness> {
  const expected = expectedMigrations().length;
  const down: Readiness = { ok: false, database: 'down', migrations: { applied: 0, expected } };
  const check = async (): Promise<Readiness> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await db.execute(sql`select 1`);
        const applied = await appliedMigrationCount(db);
        return { ok: applied >= expected, database: 'up', migrations: { applied, expected } };
      } catch (err) {
        if (attempt >= 3 || !isDatabaseUnavailable(err)) return down;
      }
    }
  };
  // While the server refuses connections the driver may hold a query until it can connect
  // again; a readiness probe answers "down" after `timeoutMs` instead of waiting with it.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve(down), opts.timeoutMs ?? 1000);
  });
  try {
    return await Promise.race([check(), late]);
  } finally {
    clearTimeout(timer);
  }
}
