/**
 * Creating a test, gathering its audio (rendered by checkpoints, uploaded real recordings,
 * their degraded copies, spoken trap instructions), opening and closing it.
 */
import { randomBytes } from 'node:crypto';
import {
  type Checkpoint,
  type Condition,
  type Db,
  defaultBaseCheckpoint,
  getCheckpoint,
  getListeningTest,
  getVoice,
  insertListeningTest,
  type ListeningTest,
  listConditions,
  listStimuli,
  putStimulus,
  type Stimulus,
  transitionTest,
  type Voice,
} from '../../db/index.ts';
import { encodeWav } from '../../inference/index.ts';
import { DEFAULT_PROMOTION_POLICY, type PromotionPolicy } from '../stats/promotion.ts';
import { type Clip, degrade, normaliseClip, sha256 } from './audio.ts';
import type { AudioStore } from './audio-store.ts';
import { configOf, type TestConfig, TRAP_TEXTS, type TrialKind } from './config.ts';
import { ListeningError } from './errors.ts';

/** Renders one stimulus: the lead wires this to the engine; it returns audio bytes (WAV). */
export type RenderStimulus = (checkpoint: Checkpoint, text: string, voice: Voice, seed: number) => Promise<Uint8Array>;

export type ListeningDeps = { db: Db; audio: AudioStore; renderStimulus?: RenderStimulus | undefined };

export type CreateTestInput = {
  voiceId: string;
  name: string;
  checkpointIds: string[];
  /** The base model anchor; the newest ready base checkpoint when left out. */
  baseCheckpointId?: string | undefined;
  sentences: { text: string; seed?: number | undefined }[];
  trialsPerRater: Partial<Record<TrialKind, number>>;
  goldPerRater: number;
  trapPerRater: number;
  autoPromote: boolean;
  promotionPolicy?: Partial<PromotionPolicy> | undefined;
};

export async function getTest(db: Db, id: string): Promise<ListeningTest> {
  const test = await getListeningTest(db, id);
  if (!test) throw new ListeningError('TEST_NOT_FOUND', 'No listening test with that id', { field: 'path.id' });
  return test;
}

const checkpointLabel = (c: Checkpoint) => (c.step != null ? `${c.name} (step ${c.step})` : c.name);

export async function createTest(
  db: Db,
  input: CreateTestInput,
): Promise<{ test: ListeningTest; conditions: Condition[] }> {
  const voice = await getVoice(db, input.voiceId);
  if (!voice) throw new ListeningError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'body.voice_id' });
  const checkpoints: Checkpoint[] = [];
  for (const [i, id] of input.checkpointIds.entries()) {
    const c = await getCheckpoint(db, id);
    if (!c)
      throw new ListeningError('CHECKPOINT_NOT_FOUND', `No checkpoint ${id}`, { field: `body.checkpoint_ids.${i}` });
    checkpoints.push(c);
  }
  const base = input.baseCheckpointId
    ? await getCheckpoint(db, input.baseCheckpointId)
    : await defaultBaseCheckpoint(db);
  if (input.baseCheckpointId && !base) {
    throw new ListeningError('CHECKPOINT_NOT_FOUND', 'No base checkpoint with that id', {
      field: 'body.base_checkpoint_id',
    });
  }
  const trials = { ab_naturalness: 0, ab_similarity: 0, mos: 0, similarity: 0, ...input.trialsPerRater };
  const config: TestConfig = {
    language: voice.language,
    sentences: input.sentences.map((s, i) => ({ text: s.text, seed: s.seed ?? 1000 + i })),
    trials_per_rater: trials,
    gold_per_rater: input.goldPerRater,
    trap_per_rater: input.trapPerRater,
    invite_code: randomBytes(16).toString('base64url'),
    auto_promote: input.autoPromote,
    promotion_policy: { ...DEFAULT_PROMOTION_POLICY, ...input.promotionPolicy },
    seed: randomBytes(8).toString('hex'),
  };
  const kinds = (Object.keys(trials) as TrialKind[]).filter((k) => trials[k] > 0);
  return insertListeningTest(db, { voiceId: voice.id, name: input.name, kinds, config }, [
    ...checkpoints
      .filter((c) => c.id !== base?.id)
      .map((c) => ({ kind: 'checkpoint' as const, checkpointId: c.id, label: checkpointLabel(c) })),
    ...(base ? [{ kind: 'base' as const, checkpointId: base.id, label: `base model: ${checkpointLabel(base)}` }] : []),
    { kind: 'real', checkpointId: null, label: 'real recording' },
    { kind: 'degraded', checkpointId: null, label: 'degraded recording' },
    { kind: 'trap', checkpointId: null, label: 'attention check' },
  ]);
}

const conditionOf = (conditions: Condition[], kind: Condition['kind']) => conditions.find((c) => c.kind === kind);

async function store(
  deps: ListeningDeps,
  test: ListeningTest,
  condition: Condition,
  sentenceIndex: number,
  text: string,
  seed: number,
  clip: Clip,
): Promise<Stimulus> {
  const key = `${test.id}/${condition.id}/${sentenceIndex}-${clip.sha256.slice(0, 16)}.wav`;
  await deps.audio.put(key, clip.wav);
  return putStimulus(deps.db, {
    testId: test.id,
    conditionId: condition.id,
    sentenceIndex,
    text,
    seed,
    audioPath: key,
    sha256: clip.sha256,
    durationS: clip.durationS,
  });
}

function requireDraft(test: ListeningTest) {
  if (test.status === 'open') throw new ListeningError('CONFLICT', 'The test is open: its audio can no longer change');
  if (test.status === 'closed') throw new ListeningError('TEST_CLOSED', 'The test is closed');
}

/** Stores the speaker's real recording of sentence `index`, and its degraded copy for gold trials. */
export async function putRecording(deps: ListeningDeps, testId: string, index: number, bytes: Uint8Array) {
  const test = await getTest(deps.db, testId);
  requireDraft(test);
  const sentence = configOf(test).sentences[index];
  if (!sentence) throw new ListeningError('VALIDATION_FAILED', 'No sentence with that index', { field: 'path.index' });
  const conditions = await listConditions(deps.db, test.id);
  const real = conditionOf(conditions, 'real');
  const degraded = conditionOf(conditions, 'degraded');
  if (!real || !degraded) throw new Error('test without real/degraded conditions');
  const clip = await normaliseClip(bytes, 'body');
  const stored = await store(deps, test, real, index, sentence.text, 0, clip);
  const worse = encodeWav(degrade(clip.samples, clip.sampleRate, `${test.id}/${index}`), clip.sampleRate);
  await store(deps, test, degraded, index, sentence.text, 0, {
    wav: worse,
    sha256: sha256(worse),
    durationS: clip.durationS,
  });
  return stored;
}

type Job = { condition: Condition; sentenceIndex: number; text: string; seed: number; checkpointId: string };

/** What still has to be rendered, and what is missing that only an upload can provide. */
export async function renderPlan(db: Db, test: ListeningTest) {
  const config = configOf(test);
  const conditions = await listConditions(db, test.id);
  const have = new Set((await listStimuli(db, test.id)).map((s) => `${s.conditionId}/${s.sentenceIndex}`));
  const jobs: Job[] = [];
  const base = conditionOf(conditions, 'base');
  for (const c of conditions) {
    if ((c.kind === 'checkpoint' || c.kind === 'base') && c.checkpointId) {
      for (const [i, s] of config.sentences.entries()) {
        if (!have.has(`${c.id}/${i}`))
          jobs.push({ condition: c, sentenceIndex: i, text: s.text, seed: s.seed, checkpointId: c.checkpointId });
      }
    }
  }
  const trap = conditionOf(conditions, 'trap');
  // Spoken by the base model (or the first checkpoint), with a fixed seed like every stimulus.
  const speaker = base ?? conditions.find((c) => c.kind === 'checkpoint');
  if (trap && speaker?.checkpointId && config.trap_per_rater > 0) {
    for (const [i, text] of TRAP_TEXTS.entries()) {
      if (!have.has(`${trap.id}/${i}`))
        jobs.push({ condition: trap, sentenceIndex: i, text, seed: 7 + i, checkpointId: speaker.checkpointId });
    }
  }
  const real = conditionOf(conditions, 'real');
  const recordings = config.sentences.filter((_, i) => real && have.has(`${real.id}/${i}`)).length;
  return { jobs, recordings, sentences: config.sentences.length };
}

/**
 * Renders up to `max` missing stimuli and returns what is left. Each call is short and
 * resumable: nothing is lost when a request times out or the server restarts.
 */
export async function renderSome(deps: ListeningDeps, testId: string, max: number) {
  const test = await getTest(deps.db, testId);
  requireDraft(test);
  const plan = await renderPlan(deps.db, test);
  if (plan.jobs.length > 0 && !deps.renderStimulus) {
    throw new ListeningError('RENDERER_NOT_CONFIGURED', 'This server has no renderer for listening-test stimuli');
  }
  const voice = await getVoice(deps.db, test.voiceId);
  if (!voice) throw new ListeningError('VOICE_NOT_FOUND', 'The test voice no longer exists');
  const cache = new Map<string, Checkpoint>();
  let rendered = 0;
  for (const job of plan.jobs.slice(0, max)) {
    let checkpoint = cache.get(job.checkpointId);
    if (!checkpoint) {
      checkpoint = await getCheckpoint(deps.db, job.checkpointId);
      if (!checkpoint) throw new ListeningError('CHECKPOINT_NOT_FOUND', `Checkpoint ${job.checkpointId} is gone`);
      cache.set(checkpoint.id, checkpoint);
    }
    const bytes = await (deps.renderStimulus as RenderStimulus)(checkpoint, job.text, voice, job.seed);
    const clip = await normaliseClip(bytes, 'render');
    await store(deps, test, job.condition, job.sentenceIndex, job.text, job.seed, clip);
    rendered++;
  }
  const remaining = plan.jobs.length - rendered;
  await transitionTest(deps.db, test.id, ['draft', 'rendering'], remaining > 0 ? 'rendering' : 'draft');
  return { rendered, remaining, recordings: plan.recordings, sentences: plan.sentences };
}

export async function openTest(db: Db, testId: string): Promise<ListeningTest> {
  const test = await getTest(db, testId);
  if (test.status === 'open') return test;
  if (test.status === 'closed') throw new ListeningError('TEST_CLOSED', 'A closed test stays closed');
  const config = configOf(test);
  const plan = await renderPlan(db, test);
  const problems: string[] = [];
  if (plan.jobs.length > 0) problems.push(`${plan.jobs.length} stimuli are not rendered yet`);
  const needsReal =
    config.gold_per_rater > 0 || config.trials_per_rater.similarity > 0 || config.trials_per_rater.ab_similarity > 0;
  if (needsReal && plan.recordings === 0) problems.push('gold and similarity trials need real recordings');
  if (problems.length > 0) throw new ListeningError('TEST_NOT_READY', problems.join('; '), { details: problems });
  const opened = await transitionTest(db, test.id, ['draft', 'rendering'], 'open');
  if (!opened) throw new ListeningError('CONFLICT', 'The test changed state meanwhile; try again');
  return opened;
}

export async function closeTest(db: Db, testId: string): Promise<ListeningTest> {
  const test = await getTest(db, testId);
  if (test.status === 'closed') return test;
  const closed = await transitionTest(db, test.id, ['draft', 'rendering', 'open'], 'closed');
  if (!closed) throw new ListeningError('CONFLICT', 'The test changed state meanwhile; try again');
  return closed;
}
