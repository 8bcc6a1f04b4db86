import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { datasetClips } from '../schema/datasets.ts';
import { trainingMetrics } from '../schema/training.ts';
import type { TrainingMetric } from './training.ts';

/** Whether a clip is in the dataset now, in SQL: the owner's override, else kept and flagged clips are. */
const included = sql`(case when ${datasetClips.excluded} is null then ${datasetClips.status} <> 'dropped' else not ${datasetClips.excluded} end)`;

export type DatasetClipSummary = {
  clips: number;
  included: number;
  /** Clips the owner excluded or restored (an override of the build's decision). */
  overridden: number;
  edited: number;
  includedSeconds: number;
  droppedSeconds: number;
  train: number;
  eval: number;
  /** Why the build dropped or flagged clips: reason → clips. */
  reasons: Record<string, number>;
};

/** The dataset as it stands after the owner's edits, summed in the database (thousands of clips). */
export async function datasetClipSummary(db: Db, datasetId: string): Promise<DatasetClipSummary> {
  const [row] = await db
    .select({
      clips: sql<number>`count(*)::int`,
      included: sql<number>`(count(*) filter (where ${included}))::int`,
      overridden: sql<number>`(count(*) filter (where ${datasetClips.excluded} is not null))::int`,
      edited: sql<number>`(count(*) filter (where ${datasetClips.originalText} is not null))::int`,
      includedSeconds: sql<number>`coalesce(sum(${datasetClips.durationS}) filter (where ${included}), 0)::float8`,
      droppedSeconds: sql<number>`coalesce(sum(${datasetClips.durationS}) filter (where not ${included}), 0)::float8`,
      train: sql<number>`(count(*) filter (where ${included} and ${datasetClips.split} is distinct from 'eval'))::int`,
      eval: sql<number>`(count(*) filter (where ${included} and ${datasetClips.split} = 'eval'))::int`,
    })
    .from(datasetClips)
    .where(eq(datasetClips.datasetId, datasetId));
  const reasonRows = await db
    .select({ reason: sql<string>`r.reason`, n: sql<number>`count(*)::int` })
    .from(sql`${datasetClips}, jsonb_array_elements_text(${datasetClips.reasons}) as r(reason)`)
    .where(eq(datasetClips.datasetId, datasetId))
    .groupBy(sql`r.reason`)
    .orderBy(sql`r.reason`);
  return {
    clips: Number(row?.clips ?? 0),
    included: Number(row?.included ?? 0),
    overridden: Number(row?.overridden ?? 0),
    edited: Number(row?.edited ?? 0),
    includedSeconds: Number(row?.includedSeconds ?? 0),
    droppedSeconds: Number(row?.droppedSeconds ?? 0),
    train: Number(row?.train ?? 0),
    eval: Number(row?.eval ?? 0),
    reasons: Object.fromEntries(reasonRows.map((r) => [r.reason, Number(r.n)])),
  };
}

/** Metric rows logged after `afterId` (the run page's live curves ask only for what is new). */
export async function listMetricsAfter(
  db: Db,
  runId: string,
  afterId: number,
  limit = 5000,
): Promise<TrainingMetric[]> {
  return db
    .select()
    .from(trainingMetrics)
    .where(and(eq(trainingMetrics.runId, runId), gt(trainingMetrics.id, afterId)))
    .orderBy(asc(trainingMetrics.id))
    .limit(limit);
}
