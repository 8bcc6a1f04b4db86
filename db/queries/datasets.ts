import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { datasetClips, datasetRecordings, datasets } from '../schema/datasets.ts';
import { completeJob, enqueueJob, type Lease } from './jobs.ts';

export type Dataset = typeof datasets.$inferSelect;
export type DatasetRecording = typeof datasetRecordings.$inferSelect;
export type DatasetClip = typeof datasetClips.$inferSelect;
export type NewDatasetClip = Omit<typeof datasetClips.$inferInsert, 'datasetId'>;

export const DATASET_BUILD_JOB = 'dataset.build';

/**
 * Creates a dataset with its recordings and queues its build, in one transaction: a dataset
 * row exists only with its recordings and its job, never half-registered.
 */
export async function createDatasetWithBuild(
  db: Db,
  values: {
    name: string;
    language: string;
    source: Dataset['source'];
    chunker: Dataset['chunker'];
    options: Record<string, unknown>;
    recordings: Array<Omit<typeof datasetRecordings.$inferInsert, 'datasetId'>>;
    /** The id to use, so that files can be stored under it before the rows exist. */
    id?: string;
  },
): Promise<{ dataset: Dataset; recordings: DatasetRecording[] }> {
  return db.transaction(async (tx) => {
    const [dataset] = await tx
      .insert(datasets)
      .values({
        ...(values.id ? { id: values.id } : {}),
        name: values.name,
        language: values.language,
        source: values.source,
        chunker: values.chunker,
        options: values.options,
        status: 'queued',
      })
      .returning();
    if (!dataset) throw new Error('insert into datasets returned no row');
    const recordings = values.recordings.length
      ? await tx
          .insert(datasetRecordings)
          .values(values.recordings.map((r) => ({ ...r, datasetId: dataset.id })))
          .returning()
      : [];
    const job = await enqueueJob(tx as Db, { kind: DATASET_BUILD_JOB, payload: { datasetId: dataset.id } });
    const [withJob] = await tx.update(datasets).set({ jobId: job.id }).where(eq(datasets.id, dataset.id)).returning();
    return { dataset: withJob ?? dataset, recordings };
  });
}

export async function getDataset(db: Db, id: string): Promise<Dataset | undefined> {
  const [row] = await db.select().from(datasets).where(eq(datasets.id, id)).limit(1);
  return row;
}

export async function listDatasets(db: Db): Promise<Dataset[]> {
  return db.select().from(datasets).orderBy(desc(datasets.createdAt));
}

export async function listDatasetRecordings(db: Db, datasetId: string): Promise<DatasetRecording[]> {
  return db
    .select()
    .from(datasetRecordings)
    .where(eq(datasetRecordings.datasetId, datasetId))
    .orderBy(asc(datasetRecordings.createdAt), asc(datasetRecordings.name));
}

export async function setDatasetProgress(
  db: Db,
  id: string,
  values: { status?: Dataset['status']; progress?: Record<string, unknown> },
): Promise<void> {
  await db
    .update(datasets)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(datasets.id, id));
}

/**
 * Stores a finished build: every clip (kept, flagged and dropped, each with its reasons), the
 * report and the folder, and completes the job, all in one transaction that commits only while
 * the worker still holds the job's lease. A rerun of a build (a worker that died after writing
 * files) replaces the clips rather than adding to them.
 */
export async function finishDatasetBuild(
  db: Db,
  lease: Lease,
  id: string,
  values: { path: string; report: Record<string, unknown>; clips: NewDatasetClip[] },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await completeJob(tx as Db, lease))) return false;
    await tx.delete(datasetClips).where(eq(datasetClips.datasetId, id));
    for (let i = 0; i < values.clips.length; i += 500) {
      await tx.insert(datasetClips).values(values.clips.slice(i, i + 500).map((c) => ({ ...c, datasetId: id })));
    }
    await tx
      .update(datasets)
      .set({
        status: 'ready',
        path: values.path,
        report: values.report,
        progress: { stage: 'done', fraction: 1 },
        errorCode: null,
        error: null,
        updatedAt: sql`now()`,
      })
      .where(eq(datasets.id, id));
    return true;
  });
}

export async function failDataset(db: Db, id: string, code: string, message: string): Promise<void> {
  await db
    .update(datasets)
    .set({ status: 'failed', errorCode: code, error: message, updatedAt: sql`now()` })
    .where(eq(datasets.id, id));
}

export async function listDatasetClips(
  db: Db,
  datasetId: string,
  filter: { status?: DatasetClip['status']; split?: 'train' | 'eval' } = {},
): Promise<DatasetClip[]> {
  return db
    .select()
    .from(datasetClips)
    .where(
      and(
        eq(datasetClips.datasetId, datasetId),
        filter.status ? eq(datasetClips.status, filter.status) : undefined,
        filter.split ? eq(datasetClips.split, filter.split) : undefined,
      ),
    )
    .orderBy(asc(datasetClips.clipKey));
}

export async function getDatasetClip(db: Db, datasetId: string, clipId: string): Promise<DatasetClip | undefined> {
  const [row] = await db
    .select()
    .from(datasetClips)
    .where(and(eq(datasetClips.datasetId, datasetId), eq(datasetClips.id, clipId)))
    .limit(1);
  return row;
}

/** The owner edits a clip's text (the build's text is kept in `original_text`) or excludes/restores it. */
export async function updateDatasetClip(
  db: Db,
  datasetId: string,
  clipId: string,
  values: { text?: string; excluded?: boolean | null },
): Promise<DatasetClip | undefined> {
  const [row] = await db
    .update(datasetClips)
    .set({
      ...(values.text !== undefined
        ? { text: values.text, originalText: sql`coalesce(${datasetClips.originalText}, ${datasetClips.text})` }
        : {}),
      ...(values.excluded !== undefined ? { excluded: values.excluded } : {}),
    })
    .where(and(eq(datasetClips.datasetId, datasetId), eq(datasetClips.id, clipId)))
    .returning();
  return row;
}

/** Whether a clip is in the dataset now: the owner's override, else kept and flagged clips are. */
export const clipIncluded = (c: Pick<DatasetClip, 'status' | 'excluded'>) =>
  c.excluded === null ? c.status !== 'dropped' : !c.excluded;

export async function deleteDataset(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(datasets).where(eq(datasets.id, id)).returning({ id: datasets.id });
  return rows.length === 1;
}
