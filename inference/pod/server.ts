import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type Engine, EngineError } from '../engine/types.ts';
import { Limiter } from './limiter.ts';
import { encodeFrame, endFrame, type VoiceJson, voiceFromJson, voiceToJson } from './protocol.ts';

export type PodOptions = {
  /** Requests generating at once on this pod. */
  concurrency: number;
  /** Requests waiting beyond those; more are answered 503. */
  queue: number;
  /** Largest request body (reference clips travel base64 in JSON). */
  maxBodyBytes?: number;
};

type SynthesizeBody = {
  package_dir: string;
  text: string;
  language: string;
  voice: VoiceJson;
  params?: Record<string, unknown>;
};

/**
 * An inference pod: the engine behind a small HTTP server, so it can run as its own (GPU)
 * container. Only the API talks to it; it has no keys and must not be exposed publicly.
 */
export function createPodApp(engine: Engine, options: PodOptions) {
  const limiter = new Limiter(options.concurrency, options.queue);
  const app = new Hono();
  app.use(bodyLimit({ maxSize: options.maxBodyBytes ?? 64 * 1024 * 1024 }));

  const fail = (err: unknown) => {
    const e =
      err instanceof EngineError ? err : new EngineError('ENGINE_FAILED', (err as Error)?.message ?? String(err));
    const status = e.code === 'ENGINE_OVERLOADED' ? 503 : e.code === 'ENGINE_FAILED' ? 500 : 400;
    return Response.json(
      { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) },
      { status, headers: status === 503 ? { 'Retry-After': '1' } : {} },
    );
  };
  const overloaded = () => fail(new EngineError('ENGINE_OVERLOADED', 'inference pod is at capacity'));

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
    const acquired = limiter.acquire(c.req.raw.signal);
    if (!acquired) return overloaded();
    const release = await acquired;
    try {
      const body = (await c.req.json()) as { package_dir: string; clips: string[] };
      const clips = body.clips.map((s) => new Uint8Array(Buffer.from(s, 'base64')));
      return c.json(voiceToJson(await engine.computeVoice(body.package_dir, clips)));
    } catch (err) {
      return fail(err);
    } finally {
      release();
    }
  });

  app.post('/v1/synthesize', async (c) => {
    const acquired = limiter.acquire(c.req.raw.signal);
    if (!acquired) return overloaded();
    const release = await acquired;
    const abort = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => abort.abort(), { once: true });
    let iterator: AsyncIterator<import('../engine/types.ts').AudioChunk>;
    let first: IteratorResult<import('../engine/types.ts').AudioChunk>;
    try {
      const body = (await c.req.json()) as SynthesizeBody;
      iterator = engine
        .synthesize({
          packageDir: body.package_dir,
          text: body.text,
          language: body.language,
          voice: voiceFromJson(body.voice),
          params: body.params ?? {},
          signal: abort.signal,
        })
        [Symbol.asyncIterator]();
      // Errors before the first chunk are answered as JSON with their code.
      first = await iterator.next();
    } catch (err) {
      release();
      return fail(err);
    }
    let pending: IteratorResult<import('../engine/types.ts').AudioChunk> | undefined = first;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const r = pending ?? (await iterator.next());
          pending = undefined;
          if (r.done) {
            release();
            controller.enqueue(endFrame());
            controller.close();
            return;
          }
          controller.enqueue(encodeFrame(r.value));
        } catch (err) {
          release();
          controller.error(err);
        }
      },
      async cancel() {
        abort.abort();
        await iterator.return?.();
        release();
      },
    });
    return c.body(stream, 200, { 'Content-Type': 'application/x-xtts-frames' });
  });
  return app;
}
