import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type AudioChunk, type Engine, EngineError } from '../engine/types.ts';
import { Limiter } from './limiter.ts';
import {
  encodeFrame,
  endFrame,
  errorFrame,
  heartbeatFrame,
  type VoiceJson,
  voiceFromJson,
  voiceToJson,
} from './protocol.ts';

export type PodOptions = {
  /** Requests generating at once on this pod. */
  concurrency: number;
  /** Requests waiting beyond those; more are answered 503 at once. */
  queue: number;
  /** Largest request body (reference clips travel base64 in JSON). */
  maxBodyBytes?: number;
  /**
   * How often an admitted request's response carries a heartbeat while it waits in the queue
   * or between two chunks (default 1000 ms). The API's INFERENCE_TIMEOUT_MS must be several
   * times this: the pool cuts a response only after that long without any byte.
   */
  heartbeatMs?: number;
};

type SynthesizeBody = {
  package_dir: string;
  text: string;
  language: string;
  voice: VoiceJson;
  params?: Record<string, unknown>;
};

const asEngineError = (err: unknown) =>
  err instanceof EngineError ? err : new EngineError('ENGINE_FAILED', (err as Error)?.message ?? String(err));

/**
 * An inference pod: the engine behind a small HTTP server, so it can run as its own (GPU)
 * container. Only the API talks to it; it has no keys and must not be exposed publicly.
 *
 * Admission is decided before anything else: a request beyond `concurrency` running plus
 * `queue` waiting is answered 503 with Retry-After at once, and one within them is answered
 * 200 at once and then kept alive by heartbeats while it waits and while it generates (see
 * protocol.ts), so a busy device makes requests slow, never failed. What goes wrong after
 * admission (bad text, a broken package, a failing engine) travels as an error frame (or, for
 * a voice, an `error` object) carrying the engine's code.
 */
export function createPodApp(engine: Engine, options: PodOptions) {
  const limiter = new Limiter(options.concurrency, options.queue);
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const app = new Hono();
  app.use(bodyLimit({ maxSize: options.maxBodyBytes ?? 64 * 1024 * 1024 }));

  const fail = (err: unknown) => {
    const e = asEngineError(err);
    const status = e.code === 'ENGINE_OVERLOADED' ? 503 : e.code === 'ENGINE_FAILED' ? 500 : 400;
    return Response.json(
      { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) },
      { status, headers: status === 503 ? { 'Retry-After': '1' } : {} },
    );
  };
  const overloaded = () =>
    fail(
      new EngineError(
        'ENGINE_OVERLOADED',
        `inference pod is at capacity (${limiter.inUse} running, ${limiter.waiting} waiting)`,
      ),
    );

  app.get('/healthz', (c) =>
    c.json({
      ok: true,
      active: limiter.inUse,
      queued: limiter.waiting,
      concurrency: limiter.concurrency,
      queue: limiter.queue,
      packages: engine.stats().packages,
    }),
  );

  app.post('/v1/voice', async (c) => {
    let packageDir: string;
    let clips: Uint8Array[];
    try {
      const body = (await c.req.json()) as { package_dir: string; clips: string[] };
      packageDir = body.package_dir;
      clips = body.clips.map((s) => new Uint8Array(Buffer.from(s, 'base64')));
    } catch (err) {
      return fail(err);
    }
    const acquired = limiter.acquire(c.req.raw.signal);
    if (!acquired) return overloaded();
    // JSON may start with white space: the heartbeats are spaces before the one object.
    const enc = new TextEncoder();
    let done = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode(' '));
        timer = setInterval(() => controller.enqueue(enc.encode(' ')), heartbeatMs);
        void (async () => {
          let release: (() => void) | undefined;
          let answer: unknown;
          try {
            release = await acquired;
            answer = { voice: voiceToJson(await engine.computeVoice(packageDir, clips)) };
          } catch (err) {
            const e = asEngineError(err);
            answer = { error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } };
          } finally {
            release?.();
            clearInterval(timer);
          }
          if (done) return;
          done = true;
          controller.enqueue(enc.encode(JSON.stringify(answer)));
          controller.close();
        })();
      },
      cancel() {
        done = true;
        clearInterval(timer);
      },
    });
    return c.body(stream, 200, { 'Content-Type': 'application/json' });
  });

  app.post('/v1/synthesize', async (c) => {
    let body: SynthesizeBody;
    let voice: ReturnType<typeof voiceFromJson>;
    try {
      body = (await c.req.json()) as SynthesizeBody;
      voice = voiceFromJson(body.voice);
    } catch (err) {
      return fail(err);
    }
    const acquired = limiter.acquire(c.req.raw.signal);
    if (!acquired) return overloaded();
    const abort = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
    let release: (() => void) | undefined;
    let iterator: AsyncIterator<AudioChunk> | undefined;
    let done = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    const finish = () => {
      done = true;
      clearInterval(timer);
      release?.();
    };
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        // Answer at once (the API's time-out then measures whether this pod is alive, not how
        // long the queue or the device takes), and keep answering while nothing else is sent.
        controller.enqueue(heartbeatFrame());
        timer = setInterval(() => controller.enqueue(heartbeatFrame()), heartbeatMs);
      },
      async pull(controller) {
        try {
          if (!iterator) {
            const granted = await acquired;
            if (done) return granted();
            release = granted;
            iterator = engine
              .synthesize({
                packageDir: body.package_dir,
                text: body.text,
                language: body.language,
                voice,
                params: body.params ?? {},
                signal: abort.signal,
              })
              [Symbol.asyncIterator]();
          }
          const r = await iterator.next();
          if (done) return;
          if (r.done) {
            finish();
            controller.enqueue(endFrame());
            controller.close();
            return;
          }
          controller.enqueue(encodeFrame(r.value));
        } catch (err) {
          if (done) return;
          finish();
          controller.enqueue(errorFrame(asEngineError(err)));
          controller.close();
        }
      },
      async cancel() {
        done = true;
        clearInterval(timer);
        abort.abort();
        await iterator?.return?.();
        release?.();
      },
    });
    return c.body(stream, 200, { 'Content-Type': 'application/x-xtts-frames' });
  });
  return app;
}
