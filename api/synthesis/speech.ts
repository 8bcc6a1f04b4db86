/**
 * A prepared speech (voices/prepareSpeech) as a response body: streamed as it is made, or
 * rendered whole first, in the format the client asked for.
 */
import { type AudioChunk, collectSamples } from '../../inference/index.ts';
import type { PreparedSpeech } from '../../voices/index.ts';
import { type AudioFormat, contentTypes, createEncoder, encodeAudio } from './formats.ts';

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
