/**
 * The `dataset.build` job: runs the Python builder (trainer/dataset) on a dataset's recordings,
 * or imports an LJSpeech folder, then stores every clip and the report in one transaction
 * with the job's completion. A build that is run again (its worker died) starts from the
 * builder's per-recording cache and replaces any files of the earlier attempt.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DATASET_BUILD_JOB,
  type Db,
  failDataset,
  finishDatasetBuild,
  getDataset,
  listDatasetRecordings,
  type NewDatasetClip,
  setDatasetProgress,
  skipWhileUnavailable,
} from '../../db/index.ts';
import type { Storage } from '../../infra/index.ts';
import { missingPythonModule, runTrainerCommand } from './python-process.ts';
import { type JobContext, JobError, type JobHandler } from './worker.ts';

/** A clip as the builder writes it in clips.json. */
type BuiltClip = {
  id: string;
  /** null for an imported clip whose audio could not be read (dropped, AUDIO_UNREADABLE). */
  file: string | null;
  recording?: string | null;
  start_s?: number | null;
  end_s?: number | null;
  duration_s: number;
  text: string;
  normalized_text?: string | null;
  cps?: number | null;
  loudness_dbfs?: number | null;
  peak_dbfs?: number | null;
  status: 'kept' | 'flagged' | 'dropped';
  reasons?: string[];
  split?: 'train' | 'eval' | null;
  wer?: number | null;
};

export const datasetKeys = (id: string) => ({
  root: `datasets/${id}`,
  build: `datasets/${id}/build`,
  work: `datasets/${id}/work`,
  spec: `datasets/${id}/build-spec.json`,
});

const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function datasetBuildHandler(deps: { storage: Storage }): JobHandler {
  const { storage } = deps;
  return {
    async run(ctx: JobContext) {
      const datasetId = String(ctx.job.payload.datasetId ?? '');
      const dataset = await getDataset(ctx.db, datasetId);
      if (!dataset) throw new JobError('DATASET_NOT_FOUND', `dataset ${datasetId} no longer exists`);
      const keys = datasetKeys(dataset.id);
      const outDir = storage.localPath(keys.build);
      const options = dataset.options ?? {};
      const recordings = await listDatasetRecordings(ctx.db, dataset.id);
      let module: string;
      let spec: Record<string, unknown>;
      if (dataset.source === 'ljspeech') {
        const archive = recordings[0];
        if (!archive) throw new JobError('DATASET_INVALID', 'the import has no LJSpeech folder or archive');
        module = 'dataset.ljspeech';
        spec = { source: storage.localPath(archive.path), language: dataset.language, options };
      } else {
        if (recordings.length === 0) throw new JobError('DATASET_INVALID', 'the dataset has no recordings');
        module = 'dataset.build';
        spec = {
          language: dataset.language,
          chunker: dataset.chunker ?? 'sentence',
          options,
          recordings: recordings.map((r) => ({
            id: r.id,
            name: r.name,
            path: storage.localPath(r.path),
            transcript: r.transcript,
          })),
        };
      }
      spec = { ...spec, out_dir: outDir, work_dir: storage.localPath(keys.work) };
      const specPath = storage.localPath(keys.spec);
      await writeFile(specPath, JSON.stringify(spec, null, 1));
      // Files of an earlier attempt that died after the builder finished: the rows decide, not the folder.
      await rm(outDir, { recursive: true, force: true });
      await setDatasetProgress(ctx.db, dataset.id, {
        status: 'processing',
        progress: { stage: 'starting', fraction: 0, attempt: ctx.lease.attempt },
      });

      let lastWrite = 0;
      const result = await runTrainerCommand(module, [specPath], {
        signal: ctx.signal,
        onEvent: async (e) => {
          if (e.event !== 'progress') return;
          const progress = { stage: e.stage, fraction: e.fraction, message: e.message };
          await ctx.report(progress);
          // The page polls the row; a few writes a second are plenty.
          const now = Date.now();
          if (now - lastWrite < 300) return;
          lastWrite = now;
          // Progress is only for the page: skipped while the database is away, never fatal.
          await setDatasetProgress(ctx.db, dataset.id, { progress }).catch(skipWhileUnavailable);
        },
      });
      if (ctx.signal.aborted) throw new JobError('CANCELLED', `the build stopped (${String(ctx.signal.reason)})`);
      if (result.error) {
        const file = typeof result.error.file === 'string' ? ` (${result.error.file})` : '';
        throw new JobError(String(result.error.code ?? 'BUILD_FAILED'), `${String(result.error.message)}${file}`);
      }
      const missing = result.code !== 0 ? missingPythonModule(result.stderrTail) : undefined;
      if (missing) throw new JobError('PYTHON_ENV_MISSING', missing);
      if (result.code !== 0 || !result.done) {
        // A crash, not bad input: worth another attempt (the cache keeps finished transcriptions).
        throw new JobError(
          'BUILD_CRASHED',
          `the dataset builder exited with ${result.code ?? result.signal}: ${tail(result.stderrTail)}`,
          {
            retry: true,
          },
        );
      }

      const built = JSON.parse(await readFile(join(outDir, 'clips.json'), 'utf8')) as BuiltClip[];
      const report = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8')) as Record<string, unknown>;
      const sampleRate = Number((report.options as { sample_rate?: number } | undefined)?.sample_rate ?? 22050);
      const clips: NewDatasetClip[] = built.map((c) => ({
        clipKey: c.id,
        path: c.file ? `${keys.build}/${c.file}` : '',
        recording: c.recording ?? null,
        startS: finite(c.start_s),
        endS: finite(c.end_s),
        text: c.text,
        normalizedText: c.normalized_text ?? null,
        durationS: finite(c.duration_s) ?? 0,
        sampleRate,
        cps: finite(c.cps),
        loudnessDbfs: finite(c.loudness_dbfs),
        peakDbfs: finite(c.peak_dbfs),
        wer: finite(c.wer),
        status: c.status,
        reasons: c.reasons ?? [],
        split: c.status === 'dropped' ? null : (c.split ?? null),
      }));
      const stored = await finishDatasetBuild(ctx.db, ctx.lease, dataset.id, { path: keys.build, report, clips });
      if (!stored) throw new JobError('LEASE_LOST', 'another worker took over the build', { retry: true });
    },
    async failed(db: Db, job, code, message) {
      const datasetId = String(job.payload.datasetId ?? '');
      if (datasetId) await failDataset(db, datasetId, code, message);
    },
  };
}

const tail = (s: string) => s.trim().split('\n').slice(-5).join(' | ');

export { DATASET_BUILD_JOB };
