import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { voiceClips, voiceConditioning, voices } from '../schema/voices.ts';
import { afterWrite, forgetLookups, remembered } from './lookups.ts';

export type Voice = typeof voices.$inferSelect;
export type VoiceClip = typeof voiceClips.$inferSelect;
export type VoiceConditioningRow = typeof voiceConditioning.$inferSelect;

/** Creates a voice with its clips (and conditioning) in one transaction: a failure stores none of them. */
export async function insertVoice(
  db: Db,
  voice: typeof voices.$inferInsert,
  clips: Omit<typeof voiceClips.$inferInsert, 'voiceId'>[],
  conditioning?: Omit<typeof voiceConditioning.$inferInsert, 'voiceId'>,
): Promise<{ voice: Voice; clips: VoiceClip[] }> {
  // A new voice may take a name another answered to (findVoice: the newest of that name).
  return afterWrite(
    db,
    db.transaction(async (tx) => {
      const [row] = await tx.insert(voices).values(voice).returning();
      if (!row) throw new Error('insert into voices returned no row');
      const clipRows = clips.length
        ? await tx
            .insert(voiceClips)
            .values(clips.map((c) => ({ ...c, voiceId: row.id })))
            .returning()
        : [];
      if (conditioning) await tx.insert(voiceConditioning).values({ ...conditioning, voiceId: row.id });
      return { voice: row, clips: clipRows };
    }),
  );
}

export async function getVoice(db: Db, id: string): Promise<Voice | undefined> {
  const [row] = await db.select().from(voices).where(eq(voices.id, id)).limit(1);
  return row;
}

/**
 * Voices are addressed by id or, for OpenAI-style clients, by name (the newest of that name). With
 * `maxAgeMs`, an answer found that recently may be given again (lookups.ts).
 */
export function findVoice(db: Db, idOrName: string, maxAgeMs = 0): Promise<Voice | undefined> {
  return remembered(db, `voice ${idOrName}`, maxAgeMs, () => lookUpVoice(db, idOrName));
}

async function lookUpVoice(db: Db, idOrName: string): Promise<Voice | undefined> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName)) {
    const byId = await getVoice(db, idOrName);
    if (byId) return byId;
  }
  const [row] = await db
    .select()
    .from(voices)
    .where(eq(voices.name, idOrName))
    .orderBy(desc(voices.createdAt))
    .limit(1);
  return row;
}

export async function listVoices(db: Db): Promise<Voice[]> {
  return db.select().from(voices).orderBy(desc(voices.createdAt));
}

export async function listVoiceClips(db: Db, voiceId: string): Promise<VoiceClip[]> {
  return db.select().from(voiceClips).where(eq(voiceClips.voiceId, voiceId)).orderBy(asc(voiceClips.createdAt));
}

export async function updateVoice(
  db: Db,
  id: string,
  patch: Partial<Pick<Voice, 'name' | 'language' | 'description' | 'checkpointId'>>,
): Promise<Voice | undefined> {
  const [row] = await db
    .update(voices)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(voices.id, id))
    .returning();
  forgetLookups(db);
  return row;
}

/** Deletes a voice; its clips and cached conditioning go with it (cascade). */
export async function deleteVoice(db: Db, id: string): Promise<Voice | undefined> {
  const [row] = await db.delete(voices).where(eq(voices.id, id)).returning();
  forgetLookups(db);
  return row;
}

export async function getConditioning(
  db: Db,
  voiceId: string,
  packageKey: string,
): Promise<VoiceConditioningRow | undefined> {
  const [row] = await db
    .select()
    .from(voiceConditioning)
    .where(and(eq(voiceConditioning.voiceId, voiceId), eq(voiceConditioning.packageKey, packageKey)))
    .limit(1);
  return row;
}

/** Stores computed conditioning; two requests computing it at once both succeed, one row stays. */
export async function putConditioning(db: Db, row: typeof voiceConditioning.$inferInsert): Promise<void> {
  await db.insert(voiceConditioning).values(row).onConflictDoNothing();
}
