import { sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { appliedMigrationCount, expectedMigrations } from './migrate.ts';

export type Readiness = { ok: boolean; database: 'up' | 'down'; migrations: { applied: number; expected: number } };

export async function readiness(db: Db): Promise<Readiness> {
  const expected = expectedMigrations().length;
  try {
    await db.execute(sql`select 1`);
    const applied = await appliedMigrationCount(db);
    return { ok: applied >= expected, database: 'up', migrations: { applied, expected } };
  } catch {
    return { ok: false, database: 'down', migrations: { applied: 0, expected } };
  }
}
