import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { checkpoints } from '../schema/checkpoints.ts';

export type Checkpoint = typeof checkpoints.$inferSelect;
export type NewCheckpoint = typeof checkpoints.$inferInsert;

export async function insertCheckpoint(db: Db, values: NewCheckpoint): Promise<Checkpoint> {
  const [row] = await db.insert(checkpoints).values(values).returning();
  if (!row) throw new Error('insert into checkpoints returned no row');
  return row;
}

export async function getCheckpoint(db: Db, id: string): Promise<Checkpoint | undefined> {
  const [row] = await db.select().from(checkpoints).where(eq(checkpoints.id, id)).limit(1);
  return row;
}

export async function findCheckpointByPackage(db: Db, packagePath: string): Promise<Checkpoint | undefined> {
  const [row] = await db.select().from(checkpoints).where(eq(checkpoints.packagePath, packagePath)).limit(1);
  return row;
}

export async function listCheckpoints(db: Db, filter: { runId?: string } = {}): Promise<Checkpoint[]> {
  return db
    .select()
    .from(checkpoints)
    .where(filter.runId ? eq(checkpoints.runId, filter.runId) : undefined)
    .orderBy(desc(checkpoints.createdAt));
}

/** The newest ready base-model checkpoint (no training run): what a new voice starts on. */
export async function defaultBaseCheckpoint(db: Db): Promise<Checkpoint | undefined> {
  const [row] = await db
    .select()
    .from(checkpoints)
    .where(and(isNull(checkpoints.runId), eq(checkpoints.status, 'ready')))
    .orderBy(desc(checkpoints.createdAt))
    .limit(1);
  return row;
}
