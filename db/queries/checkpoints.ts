import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { checkpoints } from '../schema/checkpoints.ts';
import { forgetLookups, remembered } from './lookups.ts';

export type Checkpoint = typeof checkpoints.$inferSelect;
export type NewCheckpoint = typeof checkpoints.$inferInsert;

export async function insertCheckpoint(db: Db, values: NewCheckpoint): Promise<Checkpoint> {
  const [row] = await db.insert(checkpoints).values(values).returning();
  if (!row) throw new Error('insert into checkpoints returned no row');
  // A new base may become the default (defaultBaseCheckpoint).
  forgetLookups(db);
  return row;
}

/** With `maxAgeMs`, an answer found that recently may be given again (lookups.ts). */
export function getCheckpoint(db: Db, id: string, maxAgeMs = 0): Promise<Checkpoint | undefined> {
  return remembered(db, `checkpoint ${id}`, maxAgeMs, async () => {
    const [row] = await db.select().from(checkpoints).where(eq(checkpoints.id, id)).limit(1);
    return row;
  });
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

/** The newest ready base model: what a voice speaks with until a checkpoint is promoted for it. */
export function defaultBaseCheckpoint(db: Db, maxAgeMs = 0): Promise<Checkpoint | undefined> {
  return remembered(db, 'default base checkpoint', maxAgeMs, async () => {
    const [row] = await db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.kind, 'base'), eq(checkpoints.status, 'ready')))
      .orderBy(desc(checkpoints.createdAt))
      .limit(1);
    return row;
  });
}

export async function setCheckpointKind(db: Db, id: string, kind: Checkpoint['kind']): Promise<void> {
  await db.update(checkpoints).set({ kind }).where(eq(checkpoints.id, id));
  forgetLookups(db);
}
