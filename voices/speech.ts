import { randomInt } from 'node:crypto';
import { findVoice, getCheckpoint, type Voice } from '../db/index.ts';
import type { AudioChunk, SynthesisParams } from '../inference/index.ts';
import { VoiceError } from './errors.ts';
import { checkpointOf, conditioningFor, requireEngine, type VoiceDeps } from './voices.ts';

export type SpeechDeps = VoiceDeps & {
  /** How long a recent lookup of the voice and its checkpoint may be reused (ms; db/queries/lookups.ts). */
  lookupMaxAgeMs?: number | undefined;
};

export type SpeechInput = {
  text: string;
  /** A voice id or name. */
  voice: string;
  language?: string | undefined;
  /** A checkpoint id to render with instead of the voice's own (admin and listening tests). */
  checkpointId?: string | undefined;
  params: Partial<SynthesisParams>;
  /** Field names as the client sent them, for error messages. */
  fields: { text: string; voice: string };
};

export type PreparedSpeech = {
  voice: Voice;
  checkpointId: string;
  seed: number;
  sampleRate: number;
  /** The first chunk is already made, so errors before any audio still answer as JSON. */
  chunks: AsyncIterator<AudioChunk>;
  first: AudioChunk | undefined;
  abort: AbortController;
  startedAt: number;
  firstChunkMs: number;
};

/** Resolves voice and checkpoint, and starts generating; resolves when the first chunk exists. */
export async function prepareSpeech(deps: SpeechDeps, input: SpeechInput): Promise<PreparedSpeech> {
  const engine = requireEngine(deps.engine);
  const maxAge = deps.lookupMaxAgeMs ?? 0;
  const voice = await findVoice(deps.db, input.voice, maxAge);
  if (!voice) {
    throw new VoiceError('VOICE_NOT_FOUND', `${input.fields.voice}: no voice with id or name "${input.voice}"`, {
      field: `body.${input.fields.voice}`,
    });
  }
  const checkpoint = input.checkpointId
    ? await getCheckpoint(deps.db, input.checkpointId, maxAge)
    : await checkpointOf(deps.db, voice, deps.modelDir, maxAge);
  if (!checkpoint) {
    throw new VoiceError('CHECKPOINT_NOT_FOUND', `No checkpoint with id ${input.checkpointId}`, {
      field: 'body.model',
    });
  }
  const conditioning = await conditioningFor(deps, voice, checkpoint);
  const seed = input.params.seed ?? randomInt(0, 2 ** 31 - 1);
  const abort = new AbortController();
  const startedAt = performance.now();
  const chunks = engine
    .synthesize({
      packageDir: checkpoint.packagePath!,
      text: input.text,
      language: input.language ?? voice.language,
      voice: conditioning,
      params: { ...input.params, seed },
      signal: abort.signal,
    })
    [Symbol.asyncIterator]();
  let first: IteratorResult<AudioChunk>;
  try {
    first = await chunks.next();
  } catch (err) {
    abort.abort();
    throw renameTextField(err, input.fields.text);
  }
  return {
    voice,
    checkpointId: checkpoint.id,
    seed,
    sampleRate: first.done ? 24000 : first.value.sampleRate,
    chunks,
    first: first.done ? undefined : first.value,
    abort,
    startedAt,
    firstChunkMs: performance.now() - startedAt,
  };
}

/** The engine names its input `text`; OpenAI clients call it `input`. */
function renameTextField(err: unknown, textField: string): unknown {
  if (err instanceof Error && 'field' in err && err.field === 'text' && textField !== 'text') {
    (err as { field: string }).field = textField;
  }
  return err;
}
