import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import { type Db, listCheckpoints } from '../../db/index.ts';
import { type Engine, Limiter, SAMPLING_DEFAULTS, type SynthesisParams } from '../../inference/index.ts';
import { limits } from '../../infra/index.ts';
import { type PreparedSpeech, prepareSpeech } from '../../voices/index.ts';
import { arrivedAt } from '../arrival.ts';
import { ApiError } from '../errors.ts';
import { exampleIds } from '../examples.ts';
import type { HttpMetrics } from '../metrics.ts';
import { requireScope } from '../middleware/auth.ts';
import { type AudioFormat, audioFormats, contentTypes } from '../synthesis/formats.ts';
import { audioByteStream, type StreamStats, wholeAudio } from '../synthesis/speech.ts';
import { errorResponses, jsonBody, jsonResponse, Seed, validationHook } from '../validation.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Frees the request's synthesis slot (see `admit`); safe to call more than once. */
    synthesisSlot: () => void;
    /** When the request reached the synthesis routes (performance.now()), for its Server-Timing header. */
    receivedAt: number;
  }
}

/** Text longer than this is refused before any work (TEXT_TOO_LONG); the engine has the same limit. */
export const MAX_TEXT_CHARS = limits.text.maxChars;

/** Unset, a parameter takes the model package's value; the document shows XTTS-v2's (inference's SAMPLING_DEFAULTS). */
const unset = (name: keyof typeof SAMPLING_DEFAULTS) => ({
  default: SAMPLING_DEFAULTS[name],
  description: `Unset: the model package's value (${SAMPLING_DEFAULTS[name]} for XTTS-v2)`,
});
const sampling = {
  temperature: z.number().gt(0).max(5).optional().openapi(unset('temperature')),
  top_k: z.number().int().min(1).max(2000).optional().openapi(unset('top_k')),
  top_p: z.number().gt(0).max(1).optional().openapi(unset('top_p')),
  repetition_penalty: z.number().min(1).max(50).optional().openapi(unset('repetition_penalty')),
  length_penalty: z.number().min(0).max(10).optional().openapi(unset('length_penalty')),
  speed: z.number().min(0.25).max(4).optional(),
  seed: Seed.optional(),
};

const TtsRequest = z
  .strictObject({
    text: z.string().min(1).max(MAX_TEXT_CHARS),
    voice: z.string().min(1).max(200).openapi({ description: 'A voice id or name' }),
    language: z.string().min(2).max(10).optional().openapi({ description: "Defaults to the voice's language" }),
    format: z.enum(audioFormats).default('wav'),
    stream: z.boolean().default(false),
    stream_format: z.enum(['audio', 'sse']).default('audio').openapi({
      description:
        'With stream: raw audio bytes as they are made, or server-sent events carrying base64 chunks and timings',
    }),
    ...sampling,
    babble_guard: z.boolean().optional(),
  })
  .openapi('TtsRequest');

/** OpenAI's request shape; `model` may name a checkpoint id to render with it directly. */
const SpeechRequest = z
  .object({
    model: z.string().min(1).max(100).openapi({ example: 'xtts-v2' }),
    input: z.string().min(1).max(MAX_TEXT_CHARS),
    voice: z.string().min(1).max(200),
    response_format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']).default('mp3'),
    speed: z.number().min(0.25).max(4).optional(),
    instructions: z.string().max(4096).optional(),
    stream_format: z.enum(['audio', 'sse']).default('audio'),
    // Extensions beyond OpenAI's fields, for reproducible renders.
    seed: sampling.seed,
    language: z.string().min(2).max(10).optional(),
  })
  .openapi('SpeechRequest');

/** Every audio type, the WAV one with the example (the bytes of a 24 kHz mono 16-bit WAV). */
const audioContent = Object.fromEntries(
  Object.values(contentTypes).map((t) => [
    t,
    {
      schema: z.string().openapi({ format: 'binary' }),
      ...(t === contentTypes.wav ? { example: 'RIFF…WAVEfmt … (24 kHz mono PCM16)' } : {}),
    },
  ]),
);

const tts = createRoute({
  method: 'post',
  path: '/v1/tts',
  tags: ['synthesis'],
  summary: 'Text to speech with a voice; streamed with `stream`',
  security: [{ bearer: [] }],
  request: {
    body: jsonBody(TtsRequest, { text: 'Hello, this is my own voice.', voice: 'ada', format: 'wav', seed: 42 }),
  },
  responses: {
    200: { description: 'Audio (or text/event-stream)', content: audioContent },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

const speech = createRoute({
  method: 'post',
  path: '/v1/audio/speech',
  tags: ['synthesis'],
  summary: 'OpenAI-compatible speech: the official clients work against it with their baseURL pointed here',
  security: [{ bearer: [] }],
  request: {
    body: jsonBody(SpeechRequest, {
      model: 'xtts-v2',
      input: 'Hello, this is my own voice.',
      voice: 'ada',
      response_format: 'wav',
    }),
  },
  responses: {
    200: { description: 'Audio, streamed as it is made', content: audioContent },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 503),
  },
});

const models = createRoute({
  method: 'get',
  path: '/v1/models',
  tags: ['synthesis'],
  summary: 'Models, OpenAI-style: `xtts-v2` (each voice with its promoted checkpoint) and every ready checkpoint',
  security: [{ bearer: [] }],
  responses: {
    200: jsonResponse(
      z.object({
        object: z.literal('list'),
        data: z.array(
          z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }),
        ),
      }),
      'Models',
      {
        object: 'list',
        data: [
          { id: 'xtts-v2', object: 'model', created: 1796029200, owned_by: 'xtts-voice-studio' },
          { id: exampleIds.baseCheckpoint, object: 'model', created: 1796029200, owned_by: 'XTTS-v2 base' },
        ],
      },
    ),
    ...errorResponses(401, 403),
  },
});

/** Model names that mean "the voice's own checkpoint". */
const aliasModels = new Set(['xtts-v2', 'xtts', 'tts-1', 'tts-1-hd', 'gpt-4o-mini-tts']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type SpeechRouteDeps = {
  db: Db;
  /** Syntheses admitted at once; more are answered 503 before any work. Unlimited when unset. */
  maxInFlight?: number | undefined;
  engine: Engine | undefined;
  dataDir: string;
  modelDir?: string | undefined;
  metrics: HttpMetrics;
  localSecret?: string | undefined;
  /** Where a synthesis that fails after its answer began is logged (its client only sees the transfer break). */
  logger?: Logger | undefined;
  /** How long a request may reuse a recent lookup of its key, voice and checkpoint (ms; db/queries/lookups.ts). */
  lookupMaxAgeMs?: number | undefined;
};

export function speechRoutes(deps: SpeechRouteDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const synth = requireScope({
    db: deps.db,
    scope: 'synth',
    localSecret: deps.localSecret,
    lookupMaxAgeMs: deps.lookupMaxAgeMs,
  });
  app.use('/v1/models', synth);

  /**
   * Admission before any work, even before the key is checked: beyond `maxInFlight` syntheses
   * (what the engine runs plus its queue) a request is answered 503 at once without touching
   * the database, so overload costs the server almost nothing and memory stays bounded by the
   * queue. The slot is freed when the audio ends, or as soon as the answer is not audio.
   */
  const admission = deps.maxInFlight ? new Limiter(deps.maxInFlight, 0) : undefined;
  const admit = createMiddleware(async function admit(c, next) {
    c.set('receivedAt', performance.now());
    const slot = admission ? admission.acquire() : Promise.resolve(() => {});
    if (!slot) {
      throw new ApiError('OVERLOADED', 'The server is synthesising at capacity; retry shortly', {
        headers: { 'Retry-After': '1' },
      });
    }
    const release = await slot;
    c.set('synthesisSlot', release);
    await next();
    if (c.res.status !== 200) release();
  });
  const speak = async (input: Parameters<typeof prepareSpeech>[1]) => prepareSpeech(deps, input);
  /** Where the time to the answer went (`Server-Timing`, shown by browsers' developer tools, read by bench:gpu). */
  const timing = (c: Context, handlerAt: number, prepared: PreparedSpeech) => {
    const arrived = arrivedAt(c);
    c.header(
      'Server-Timing',
      serverTiming({
        // From the request's arrival in this process to the routes' first middleware (the main thread busy
        // with other work; arrival.ts), where the server stamped it.
        ...(arrived !== undefined ? { queue: c.get('receivedAt') - arrived } : {}),
        // Admission, the key's check and the body's validation.
        request: handlerAt - c.get('receivedAt'),
        // The voice, its checkpoint and conditioning (the database; an engine run for a new voice).
        voice: prepared.startedAt - handlerAt,
        // The engine: queue, prompt, first codes and their audio.
        'first-audio': prepared.firstChunkMs,
      }),
    );
  };
  app.use('/v1/tts', admit, synth);
  app.use('/v1/audio/speech', admit, synth);

  const done = (route: string, format: string, release: () => void) => (stats: StreamStats, error?: unknown) => {
    release();
    deps.metrics.ttsRequests.inc({ route, format, outcome: error ? 'error' : 'ok' });
    // The status line went out as 200 before the failure: the log is the only place that says why.
    if (error && (error as Error).message !== 'client went away')
      deps.logger?.warn(
        {
          route,
          format,
          audioSeconds: stats.audioSeconds,
          err: { message: (error as Error).message, code: (error as { code?: string }).code },
        },
        'synthesis failed after its audio began',
      );
    deps.metrics.ttsFirstAudio.observe({ route }, stats.firstChunkMs / 1000);
    if (!error && stats.audioSeconds > 0) {
      deps.metrics.ttsRealTimeFactor.observe({ route }, stats.elapsedMs / 1000 / stats.audioSeconds);
    }
  };

  return app
    .openapi(tts, async (c) => {
      const handlerAt = performance.now();
      const b = c.req.valid('json');
      const params: Partial<SynthesisParams> = definedOnly({
        temperature: b.temperature,
        topK: b.top_k,
        topP: b.top_p,
        repetitionPenalty: b.repetition_penalty,
        lengthPenalty: b.length_penalty,
        speed: b.speed,
        seed: b.seed,
        babbleGuard: b.babble_guard,
      });
      const release = c.get('synthesisSlot');
      const prepared = await speak({
        text: b.text,
        voice: b.voice,
        language: b.language,
        params,
        fields: { text: 'text', voice: 'voice' },
      });
      timing(c, handlerAt, prepared);
      return respond(c, prepared, b.format, b.stream ? b.stream_format : 'whole', done('/v1/tts', b.format, release));
    })
    .openapi(speech, async (c) => {
      const handlerAt = performance.now();
      const b = c.req.valid('json');
      if (b.response_format === 'aac' || b.response_format === 'flac') {
        throw new ApiError(
          'VALIDATION_FAILED',
          `body.response_format: ${b.response_format} is not supported; use mp3, opus, wav or pcm`,
          {
            field: 'body.response_format',
          },
        );
      }
      let checkpointId: string | undefined;
      if (!aliasModels.has(b.model)) {
        if (!UUID.test(b.model)) {
          throw new ApiError(
            'VALIDATION_FAILED',
            `body.model: "${b.model}" is not a model; use xtts-v2 or a checkpoint id (GET /v1/models)`,
            {
              field: 'body.model',
            },
          );
        }
        checkpointId = b.model;
      }
      const format: AudioFormat = b.response_format;
      const release = c.get('synthesisSlot');
      const prepared = await speak({
        text: b.input,
        voice: b.voice,
        language: b.language,
        checkpointId,
        params: definedOnly({ speed: b.speed, seed: b.seed }),
        fields: { text: 'input', voice: 'voice' },
      });
      timing(c, handlerAt, prepared);
      // OpenAI streams speech as it is made; so does this route.
      return respond(c, prepared, format, b.stream_format, done('/v1/audio/speech', format, release));
    })
    .openapi(models, async (c) => {
      const checkpoints = (await listCheckpoints(deps.db)).filter((k) => k.status === 'ready');
      const created = Math.floor(Date.now() / 1000);
      return c.json(
        {
          object: 'list' as const,
          data: [
            { id: 'xtts-v2', object: 'model' as const, created, owned_by: 'xtts-voice-studio' },
            ...checkpoints.map((k) => ({
              id: k.id,
              object: 'model' as const,
              created: Math.floor(k.createdAt.getTime() / 1000),
              owned_by: k.name,
            })),
          ],
        },
        200,
      );
    });
}

function respond(
  c: Context,
  prepared: PreparedSpeech,
  format: AudioFormat,
  mode: 'whole' | 'audio' | 'sse',
  onEnd: (stats: StreamStats, error?: unknown) => void,
) {
  c.header('X-Seed', String(prepared.seed));
  c.header('X-Checkpoint-Id', prepared.checkpointId);
  c.header('X-Sample-Rate', String(prepared.sampleRate));
  if (mode === 'whole') {
    return wholeAudio(prepared, format).then(
      ({ bytes, stats }) => {
        onEnd(stats);
        c.header('Content-Type', contentTypes[format]);
        return c.body(bytes as Uint8Array<ArrayBuffer>, 200);
      },
      (err) => {
        onEnd({ audioSeconds: 0, elapsedMs: 0, firstChunkMs: prepared.firstChunkMs }, err);
        throw err;
      },
    );
  }
  if (mode === 'sse') return sseResponse(c, prepared, format, onEnd);
  c.header('Content-Type', contentTypes[format]);
  c.header('Cache-Control', 'no-store');
  return c.body(audioByteStream(prepared, format, onEnd), 200);
}

/**
 * Server-sent events in OpenAI's shape: `speech.audio.delta` events with base64 audio, then
 * `speech.audio.done` with timings.
 */
function sseResponse(
  c: Context,
  prepared: PreparedSpeech,
  format: AudioFormat,
  onEnd: (stats: StreamStats, error?: unknown) => void,
) {
  const bytes = audioByteStream(prepared, format, (stats, error) => {
    final = stats;
    onEnd(stats, error);
  });
  let final: StreamStats | undefined;
  const reader = bytes.getReader();
  const enc = new TextEncoder();
  const event = (data: unknown) => enc.encode(`data: ${JSON.stringify(data)}\n\n`);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await reader.read().catch((err) => {
        controller.error(err);
        return undefined;
      });
      if (!r) return;
      if (r.done) {
        const s = final ?? { audioSeconds: 0, elapsedMs: 0, firstChunkMs: 0 };
        controller.enqueue(
          event({
            type: 'speech.audio.done',
            timings: {
              first_audio_ms: Math.round(s.firstChunkMs),
              elapsed_ms: Math.round(s.elapsedMs),
              audio_seconds: s.audioSeconds,
              real_time_factor: s.audioSeconds > 0 ? s.elapsedMs / 1000 / s.audioSeconds : null,
            },
          }),
        );
        controller.close();
        return;
      }
      controller.enqueue(event({ type: 'speech.audio.delta', audio: Buffer.from(r.value).toString('base64') }));
    },
    cancel: () => reader.cancel(),
  });
  c.header('Content-Type', 'text/event-stream');
  c.header('Cache-Control', 'no-store');
  return c.body(body, 200);
}

/** A Server-Timing header value: `name;dur=ms` for each entry, in milliseconds to 0.1. */
export function serverTiming(entries: Readonly<Record<string, number>>): string {
  return Object.entries(entries)
    .map(([name, ms]) => `${name};dur=${Math.max(0, ms).toFixed(1)}`)
    .join(', ');
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
