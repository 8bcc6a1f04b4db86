import { desc, eq } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { promotions } from '../schema/promotions.ts';
import { voices } from '../schema/voices.ts';
import { defaultBaseCheckpoint } from './checkpoints.ts';
import { afterWrite } from './lookups.ts';

export type Promotion = typeof promotions.$inferSelect;

export type PromotionOutcome =
  | { ok: true; promotion: Promotion }
  | { ok: false; reason: 'voice-not-found' | 'voice-changed' | 'nothing-to-roll-back'; current?: string | null };

/**
 * Points a voice at a new checkpoint and records why, in one transaction, but only while the
 * voice still uses `expectedFrom`: a decision computed on stale numbers (another promotion or
 * rollback got there first) changes nothing.
 */
export async function promoteCheckpoint(
  db: Db,
  input: {
    voiceId: string;
    expectedFrom: string | null;
    to: string;
    testId: string | null;
    statistics: Record<string, unknown>;
    actor: string;
  },
): Promise<PromotionOutcome> {
  return afterWrite(
    db,
    db.transaction(async (tx) => {
      const [voice] = await tx.select().from(voices).where(eq(voices.id, input.voiceId)).for('update');
      if (!voice) return { ok: false, reason: 'voice-not-found' } as const;
      if (voice.checkpointId !== input.expectedFrom) {
        return { ok: false, reason: 'voice-changed', current: voice.checkpointId } as const;
      }
      await tx.update(voices).set({ checkpointId: input.to, updatedAt: new Date() }).where(eq(voices.id, voice.id));
      const [row] = await tx
        .insert(promotions)
        .values({
          voiceId: voice.id,
          action: 'promote',
          fromCheckpointId: input.expectedFrom,
          toCheckpointId: input.to,
          testId: input.testId,
          statistics: input.statistics,
          actor: input.actor,
        })
        .returning();
      if (!row) throw new Error('insert into promotions returned no row');
      return { ok: true, promotion: row } as const;
    }),
  );
}

/**
 * One-step rollback: undoes the voice's latest promotion, if that promotion is what the voice
 * uses now. A rollback is itself recorded; rolling back twice in a row finds nothing to undo.
 */
export async function rollbackPromotion(db: Db, voiceId: string, actor: string): Promise<PromotionOutcome> {
  return afterWrite(
    db,
    db.transaction(async (tx) => {
      const [voice] = await tx.select().from(voices).where(eq(voices.id, voiceId)).for('update');
      if (!voice) return { ok: false, reason: 'voice-not-found' } as const;
      const [last] = await tx
        .select()
        .from(promotions)
        .where(eq(promotions.voiceId, voiceId))
        .orderBy(desc(promotions.createdAt))
        .limit(1);
      if (last?.action !== 'promote' || last.toCheckpointId !== voice.checkpointId) {
        return { ok: false, reason: 'nothing-to-roll-back', current: voice.checkpointId } as const;
      }
      // A voice's first promotion comes from no checkpoint of its own (it spoke with the default
      // base model): rolling it back restores exactly that, and the record names the base it
      // speaks with again.
      const to = last.fromCheckpointId ?? (await defaultBaseCheckpoint(tx))?.id;
      if (!to) return { ok: false, reason: 'nothing-to-roll-back', current: voice.checkpointId } as const;
      await tx
        .update(voices)
        .set({ checkpointId: last.fromCheckpointId, updatedAt: new Date() })
        .where(eq(voices.id, voice.id));
      const [row] = await tx
        .insert(promotions)
        .values({
          voiceId: voice.id,
          action: 'rollback',
          fromCheckpointId: voice.checkpointId,
          toCheckpointId: to,
          testId: last.testId,
          statistics: { rolled_back: last.id },
          actor,
        })
        .returning();
      if (!row) throw new Error('insert into promotions returned no row');
      return { ok: true, promotion: row } as const;
    }),
  );
}

/** A voice's promotions and rollbacks, newest first. */
export async function listPromotions(db: Db, voiceId: string): Promise<Promotion[]> {
  return db.select().from(promotions).where(eq(promotions.voiceId, voiceId)).orderBy(desc(promotions.createdAt));
}
