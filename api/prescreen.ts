/**
 * The machines listen first: before a run's listening test opens, every checkpoint's rendered
 * stimuli are scored (trainer/prescreen: Whisper intelligibility, end-of-utterance faults, length
 * against the speaker's rate, speaker similarity) and the checkpoints the rule finds clearly
 * broken, against the base model and the voice's current checkpoint, are left out of the crowd
 * test. The scores and reasons are stored on the test (config.prescreen) for its report.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  completeJob,
  type Db,
  dropDraftConditions,
  getListeningTest,
  listConditions,
  listStimuli,
  setTestPrescreen,
} from '../db/index.ts';
import {
  type AudioStore,
  type ListeningDeps,
  ListeningError,
  openTest,
  type RenderStimulus,
  renderSome,
} from '../listening/index.ts';
import {
  type JobContext,
  JobError,
  type JobHandler,
  judgeCheckpoints,
  type PrescreenPolicy,
  type PrescreenVerdict,
  runPrescreen,
} from '../trainer/index.ts';

export type PrescreenSettings = {
  /** faster-whisper options for the transcription (the dataset's by default). */
  asr: Record<string, unknown>;
  language: string;
  /** The voice's current checkpoint: a reference, never left out. */
  currentCheckpointId: string | null;
  policy?: Partial<PrescreenPolicy> | undefined;
};

/**
 * A run's pre-screen transcription settings: the dataset's transcription model, on the GPU when
 * there is one (device auto), decoded the pre-screen's own way (greedy, trainer/prescreen/run.py),
 * unless the run's pre-screen options say otherwise. The dataset's beam size is not taken: every
 * stored dataset carries one (5 unless chosen), which made the pre-screen's greedy default
 * unreachable, and a pre-screen looks for gross faults, where the beam changes nothing. On
 * unintelligible audio the beam is what costs: on the tiny model's renderings beam 5 decoded
 * hallucinated loops to Whisper's length limit, 3.8 s of CPU a clip against 1.0 s greedy.
 */
export function prescreenAsr(
  datasetAsr: Record<string, unknown> | undefined,
  runAsr: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const fromDataset = Object.fromEntries(Object.entries(datasetAsr ?? {}).filter(([k]) => k !== 'beam_size'));
  return { model: 'tiny.en-bundled', ...fromDataset, device: 'auto', ...runAsr };
}

export type PrescreenOutcome = { kept: number; excluded: number; error?: string };

/** A candidate checkpoint whose rendering the engine refused: it left the draft before scoring. */
export type RenderFailure = { conditionId: string; checkpointId: string; label: string; message: string };

/** The engine's refusal of what a model produced (non-finite samples, nothing above silence). */
const refusedOutput = (err: unknown): err is Error =>
  err instanceof Error && (err as { code?: unknown }).code === 'OUTPUT_INVALID';

/**
 * Renders every stimulus of a draft test, like `renderSome` until nothing is left, except that a
 * candidate checkpoint whose output the engine refuses (OUTPUT_INVALID: non-finite audio, or
 * nothing above silence) does not hold the whole test back: that checkpoint cannot be put before
 * listeners, so its condition leaves the draft and the failure is returned for the pre-screen's
 * record. Any other failure, and a refusal for a reference (the base, the voice's current
 * checkpoint), stops rendering as before.
 */
export async function renderScreened(
  deps: ListeningDeps & { renderStimulus: RenderStimulus },
  testId: string,
  currentCheckpointId: string | null,
  opts: {
    /** After each batch: how many were rendered in it and how many are left. */
    onBatch?: (r: { rendered: number; remaining: number }) => Promise<void> | void;
    /** After a candidate left the draft (a resumed job reads them back from the test's record). */
    onFailure?: (failures: RenderFailure[]) => Promise<void> | void;
    signal?: AbortSignal;
    /** Stimuli per renderSome call (a job renders one at a time: its progress moves with each). */
    batch?: number;
  } = {},
): Promise<RenderFailure[]> {
  const failures: RenderFailure[] = [];
  for (;;) {
    opts.signal?.throwIfAborted();
    let refused: { checkpointId: string; message: string } | undefined;
    const render: RenderStimulus = async (checkpoint, text, voice, seed) => {
      try {
        return await deps.renderStimulus(checkpoint, text, voice, seed);
      } catch (err) {
        if (refusedOutput(err)) refused = { checkpointId: checkpoint.id, message: err.message };
        throw err;
      }
    };
    try {
      const r = await renderSome({ ...deps, renderStimulus: render }, testId, opts.batch ?? 8);
      await opts.onBatch?.(r);
      if (r.remaining === 0) return failures;
    } catch (err) {
      const failed = refused;
      if (!failed) throw err;
      const condition = (await listConditions(deps.db, testId)).find(
        (c) =>
          c.kind === 'checkpoint' && c.checkpointId === failed.checkpointId && c.checkpointId !== currentCheckpointId,
      );
      if (!condition || (await dropDraftConditions(deps.db, testId, [condition.id])) === 0) throw err;
      failures.push({
        conditionId: condition.id,
        checkpointId: failed.checkpointId,
        label: condition.label,
        message: failed.message,
      });
      await opts.onFailure?.(failures);
    }
  }
}

/** The stored row of a checkpoint left out because it could not be rendered. */
export const failureRow = (f: RenderFailure) => {
  const reasons: PrescreenVerdict['reasons'] = [
    { code: 'render_failed', message: `the engine refused its rendering: ${f.message}` },
  ];
  return {
    condition_id: f.conditionId,
    checkpoint_id: f.checkpointId,
    label: f.label,
    role: 'candidate',
    scores: null,
    excluded: true,
    reasons,
    combined: null,
  };
};

export async function prescreenTest(
  deps: { db: Db; audio: AudioStore; logger: Logger },
  testId: string,
  settings: PrescreenSettings,
  /** Candidates already out: the engine refused their renderings (see renderScreened). */
  renderFailures: RenderFailure[] = [],
  opts: {
    /** Stops the scorer; an aborted pre-screen throws instead of letting every checkpoint through. */
    signal?: AbortSignal;
    /** Renderings scored so far, of all to score. */
    onProgress?: (scored: number, total: number) => void;
  } = {},
): Promise<PrescreenOutcome> {
  const conditions = await listConditions(deps.db, testId);
  const stimuli = await listStimuli(deps.db, testId);
  const screened = conditions.filter((c) => (c.kind === 'checkpoint' || c.kind === 'base') && c.checkpointId);
  const real = conditions.find((c) => c.kind === 'real');
  const dir = await mkdtemp(join(tmpdir(), 'prescreen-audio-'));
  try {
    const fileOf = async (s: (typeof stimuli)[number]) => {
      const bytes = await deps.audio.get(s.audioPath);
      if (!bytes) throw new Error(`stimulus audio ${s.audioPath} is missing`);
      const path = join(dir, `${s.id}.wav`);
      await writeFile(path, bytes);
      return path;
    };
    const items = [];
    for (const s of stimuli) {
      const c = screened.find((x) => x.id === s.conditionId);
      if (c) items.push({ group: c.id, sentence: s.sentenceIndex, seed: s.seed, text: s.text, path: await fileOf(s) });
    }
    const references = [];
    for (const s of stimuli.filter((x) => x.conditionId === real?.id))
      references.push({ path: await fileOf(s), text: s.text });
    const report = await runPrescreen(
      { language: settings.language, asr: settings.asr, references, items },
      {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (fraction) => opts.onProgress?.(Math.round(fraction * items.length), items.length),
      },
    );
    const isReference = (c: (typeof screened)[number]) =>
      c.kind === 'base' || c.checkpointId === settings.currentCheckpointId;
    const scored = screened.flatMap((c) => {
      const scores = report.groups[c.id];
      return scores ? [{ c, scores }] : [];
    });
    const refs = scored.filter((x) => isReference(x.c)).map((x) => x.scores);
    const candidates = scored.filter((x) => !isReference(x.c)).map((x) => ({ id: x.c.id, scores: x.scores }));
    const verdicts = judgeCheckpoints(candidates, refs, settings.policy);
    const out = verdicts.filter((v) => v.excluded).map((v) => v.id);
    await dropDraftConditions(deps.db, testId, out);
    await setTestPrescreen(deps.db, testId, {
      asr: report.asr,
      device: report.device ?? null,
      speaker_embedding: report.speaker_embedding,
      speaker_cps: report.speaker_cps,
      cpu_s: report.cpu_s,
      wall_s: report.wall_s,
      policy: settings.policy ?? {},
      render_failures: renderFailures,
      checkpoints: [
        ...screened.map((c) => {
          const v = verdicts.find((x) => x.id === c.id);
          return {
            condition_id: c.id,
            checkpoint_id: c.checkpointId,
            label: c.label,
            role: isReference(c) ? (c.kind === 'base' ? 'base' : 'current') : 'candidate',
            scores: report.groups[c.id] ?? null,
            excluded: v?.excluded ?? false,
            reasons: v?.reasons ?? [],
            combined: v?.combined ?? null,
          };
        }),
        ...renderFailures.map(failureRow),
      ],
    });
    const excluded = out.length + renderFailures.length;
    deps.logger.info({ test: testId, kept: candidates.length - out.length, excluded }, 'pre-screen done');
    return { kept: candidates.length - out.length, excluded };
  } catch (err) {
    // Stopped (a shutdown, a lost lease, its owner): the job resumes it; nothing is decided here.
    if (opts.signal?.aborted) throw err;
    // A pre-screen that cannot run (no Python environment, no transcription model) never holds a
    // test back: every checkpoint goes to listeners, and the report says the screen failed.
    const message = err instanceof Error ? err.message : String(err);
    deps.logger.warn({ test: testId, err: message }, 'pre-screen failed; every checkpoint goes to listeners');
    await setTestPrescreen(deps.db, testId, {
      error: message.slice(0, 2000),
      render_failures: renderFailures,
      checkpoints: renderFailures.map(failureRow),
    });
    return { kept: screened.length, excluded: renderFailures.length, error: message };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a pre-screen job is given: the draft test, and how to screen it (null: render and open only). */
export type PrescreenJobPayload = { testId: string; runId?: string; prescreen: PrescreenSettings | null };

/** The job's progress, on the job row (and so on the test's `preparation` in the API). */
export type PrescreenProgress = {
  stage: 'rendering' | 'scoring' | 'opening';
  /** Renderings done (rendering) or scored (scoring) so far, of `total` (null until known). */
  done: number;
  total: number | null;
  /** Candidate checkpoints left out so far because the engine refused their renderings. */
  render_failed: number;
};

type StoredRecord = { render_failures?: RenderFailure[] } & Record<string, unknown>;
const recordOf = (config: unknown): StoredRecord =>
  ((config as { prescreen?: StoredRecord } | null)?.prescreen ?? {}) as StoredRecord;

/**
 * The `prescreen.run` job: renders a run's draft listening test on the engine, pre-screens its
 * checkpoints and opens it with the ones that pass. Every step resumes where a dead worker left it:
 * renderSome stores each stimulus as it is made (a new attempt renders only what is missing), the
 * candidates the engine refused are kept on the test's record as they leave the draft (and read back
 * on a new attempt), and scoring, which stores nothing until its verdicts, simply runs again.
 */
export function prescreenJobHandler(deps: {
  audio: AudioStore;
  logger: Logger;
  renderStimulus: RenderStimulus;
}): JobHandler {
  return {
    async run(ctx: JobContext) {
      const { testId, prescreen } = ctx.job.payload as PrescreenJobPayload;
      const db = ctx.db;
      const test = await getListeningTest(db, testId);
      if (!test || (test.status !== 'draft' && test.status !== 'rendering')) {
        // Gone, or opened already by an earlier attempt whose worker died before it ended the job.
        if (!(await completeJob(db, ctx.lease))) throw new JobError('LEASE_LOST', 'another worker has the job');
        return;
      }
      const earlier = recordOf(test.config).render_failures ?? [];
      const conditions = await listConditions(db, testId);
      // Rendered by the engine: the checkpoints', the base's and the attention checks' stimuli
      // (the real and degraded ones are recordings).
      const rendered = new Set(
        conditions.filter((c) => c.kind === 'checkpoint' || c.kind === 'base' || c.kind === 'trap').map((c) => c.id),
      );
      let done = (await listStimuli(db, testId)).filter((s) => rendered.has(s.conditionId)).length;
      let failed = earlier.length;
      const progress = (p: Omit<PrescreenProgress, 'render_failed'>) => ctx.report({ ...p, render_failed: failed });
      await progress({ stage: 'rendering', done, total: null });
      const onBatch = async (r: { rendered: number; remaining: number }) => {
        done += r.rendered;
        await progress({ stage: 'rendering', done, total: done + r.remaining });
      };
      const ldeps = { db, audio: deps.audio, renderStimulus: deps.renderStimulus };
      try {
        if (prescreen) {
          const renderFailures = [
            ...earlier,
            ...(await renderScreened(ldeps, testId, prescreen.currentCheckpointId, {
              signal: ctx.signal,
              batch: 1,
              onBatch,
              onFailure: async (now) => {
                failed = earlier.length + now.length;
                const all = [...earlier, ...now];
                await setTestPrescreen(db, testId, { render_failures: all, checkpoints: all.map(failureRow) });
              },
            })),
          ];
          await progress({ stage: 'scoring', done: 0, total: null });
          const screened = await prescreenTest(
            { db, audio: deps.audio, logger: ctx.logger },
            testId,
            prescreen,
            renderFailures,
            {
              signal: ctx.signal,
              onProgress: (scored, total) => void progress({ stage: 'scoring', done: scored, total }),
            },
          );
          // Every candidate clearly broken: nothing worth a listener's time; the test stays a draft.
          if (screened.kept === 0 && screened.excluded > 0) {
            if (!(await completeJob(db, ctx.lease))) throw new JobError('LEASE_LOST', 'another worker has the job');
            return;
          }
        } else {
          for (;;) {
            ctx.signal.throwIfAborted();
            const r = await renderSome(ldeps, testId, 1);
            await onBatch(r);
            if (r.remaining === 0) break;
          }
        }
        await progress({ stage: 'opening', done, total: done });
        await openTest(db, testId);
      } catch (err) {
        // The test's own refusals (a closed test, one not ready) cannot change on another attempt.
        if (err instanceof ListeningError && !ctx.signal.aborted) throw new JobError(err.code, err.message);
        throw err;
      }
      if (!(await completeJob(db, ctx.lease))) throw new JobError('LEASE_LOST', 'another worker has the job');
    },
    async failed(db, job, code, message) {
      // The test stays a draft (its owner can render and open it by hand); its record says why.
      const testId = String(job.payload.testId ?? '');
      const test = testId ? await getListeningTest(db, testId) : undefined;
      if (!test) return;
      await setTestPrescreen(db, testId, { ...recordOf(test.config), error: `${code}: ${message}`.slice(0, 2000) });
    },
  };
}
