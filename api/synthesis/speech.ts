import { randomInt } from 'node:crypto';
import { findVoice, getCheckpoint, type Voice } from '../../db/index.ts';
import { type AudioChunk, collectSamples, type SynthesisParams } from '../../inference/index.ts';
import { ApiError } from '../errors.ts';
import { type AudioFormat, contentTypes, createEncoder, encodeAudio } from './formats.ts';
import { checkpointOf, conditioningFor, requireEngine, type VoiceDeps } from './voices.ts';

export type SpeechDeps = VoiceDeps;

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
  const voice = await findVoice(deps.db, input.voice);
  if (!voice) {
    throw new ApiError('VOICE_NOT_FOUND', `${input.fields.voice}: no voice with id or name "${input.voice}"`, {
      field: `body.${input.fields.voice}`,
    });
  }
  const checkpoint = input.checkpointId
    ? await getCheckpoint(deps.db, input.checkpointId)
    : await checkpointOf(deps.db, voice, deps.modelDir);
  if (!checkpoint) {
    throw new ApiError('CHECKPOINT_NOT_FOUND', `No checkpoint with id ${input.checkpointId}`, { field: 'body.model' });
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

export type StreamStats = { audioSeconds: number; elapsedMs: number; firstChunkMs: number };

/**
 * The encoded audio as a byte stream. A client that goes away aborts generation; an engine
 * failure after the first bytes errors the stream, which ends the response without its
 * terminating chunk, so the client sees a broken transfer rather than a short, valid file.
 */
export function audioByteStream(
  speech: PreparedSpeech,
  format: AudioFormat,
  onEnd: (stats: StreamStats, error?: unknown) => void,
): ReadableStream<Uint8Array> {
  const encoder = createEncoder(format, speech.sampleRate);
  let samples = 0;
  const finish = (error?: unknown) =>
    onEnd(
      {
        audioSeconds: samples / speech.sampleRate,
        elapsedMs: performance.now() - speech.startedAt,
        firstChunkMs: speech.firstChunkMs,
      },
      error,
    );
  let pending = speech.first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = pending ?? (await nextChunk(speech));
        pending = undefined;
        if (!chunk) {
          const tail = encoder.end();
          if (tail.length) controller.enqueue(tail);
          controller.close();
          finish();
          return;
        }
        samples += chunk.samples.length;
        const bytes = encoder.push(chunk.samples);
        // An encoder filling a frame may have nothing yet; an empty chunk would end nothing but is noise.
        if (bytes.length) controller.enqueue(bytes);
      } catch (err) {
        speech.abort.abort();
        finish(err);
        controller.error(err);
      }
    },
    async cancel() {
      speech.abort.abort();
      await speech.chunks.return?.();
      finish(new Error('client went away'));
    },
  });
}

async function nextChunk(speech: PreparedSpeech): Promise<AudioChunk | undefined> {
  const r = await speech.chunks.next();
  return r.done ? undefined : r.value;
}

/** The prepared speech's chunks, the first one included, in order. */
async function* remaining(speech: PreparedSpeech): AsyncGenerator<AudioChunk> {
  for (let chunk = speech.first; chunk; chunk = await nextChunk(speech)) yield chunk;
}

/** Renders everything, then answers with exact sizes (a WAV header that states its length). */
export async function wholeAudio(
  speech: PreparedSpeech,
  format: AudioFormat,
): Promise<{ bytes: Uint8Array; stats: StreamStats }> {
  const { samples } = await collectSamples(remaining(speech));
  const stats = {
    audioSeconds: samples.length / speech.sampleRate,
    elapsedMs: performance.now() - speech.startedAt,
    firstChunkMs: speech.firstChunkMs,
  };
  return { bytes: encodeAudio(format, samples, speech.sampleRate), stats };
}

export { contentTypes };
