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
import { type Db, dropDraftConditions, listConditions, listStimuli, setTestPrescreen } from '../db/index.ts';
import { type AudioStore, type ListeningDeps, type RenderStimulus, renderSome } from '../listening/index.ts';
import { judgeCheckpoints, type PrescreenPolicy, type PrescreenVerdict, runPrescreen } from '../trainer/index.ts';

export type PrescreenSettings = {
  /** faster-whisper options for the transcription (the dataset's by default). */
  asr: Record<string, unknown>;
  language: string;
  /** The voice's current checkpoint: a reference, never left out. */
  currentCheckpointId: string | null;
  policy?: Partial<PrescreenPolicy> | undefined;
};

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
): Promise<RenderFailure[]> {
  const failures: RenderFailure[] = [];
  for (;;) {
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
      if ((await renderSome({ ...deps, renderStimulus: render }, testId, 8)).remaining === 0) return failures;
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
    }
  }
}

/** The stored row of a checkpoint left out because it could not be rendered. */
const failureRow = (f: RenderFailure) => {
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
    const report = await runPrescreen({ language: settings.language, asr: settings.asr, references, items });
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
      speaker_embedding: report.speaker_embedding,
      speaker_cps: report.speaker_cps,
      cpu_s: report.cpu_s,
      wall_s: report.wall_s,
      policy: settings.policy ?? {},
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
    // A pre-screen that cannot run (no Python environment, no transcription model) never holds a
    // test back: every checkpoint goes to listeners, and the report says the screen failed.
    const message = err instanceof Error ? err.message : String(err);
    deps.logger.warn({ test: testId, err: message }, 'pre-screen failed; every checkpoint goes to listeners');
    await setTestPrescreen(deps.db, testId, {
      error: message.slice(0, 2000),
      checkpoints: renderFailures.map(failureRow),
    });
    return { kept: screened.length, excluded: renderFailures.length, error: message };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
