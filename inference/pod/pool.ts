import {
  type AudioChunk,
  type Engine,
  EngineError,
  type SynthesisRequest,
  type VoiceConditioning,
} from '../engine/types.ts';
import { type ErrorJson, errorFromJson, FrameReader, type VoiceJson, voiceFromJson, voiceToJson } from './protocol.ts';

export type PoolOptions = {
  /** Base URLs of the inference pods. */
  urls: string[];
  /** Requests this API sends to one pod at once. */
  perPod: number;
  /** Requests waiting for a free pod; beyond this, ENGINE_OVERLOADED (503). */
  queue: number;
  /**
   * Longest a pod may stay silent: before it answers a request, or between two bytes of an
   * answer. Pods answer at once and send heartbeats while a request waits or generates
   * (protocol.ts), so this detects a pod that hangs or a connection that died, never a slow
   * device: keep it several times the pods' heartbeat (1 s).
   */
  timeoutMs: number;
  healthIntervalMs?: number;
};

export type PodState = { url: string; healthy: boolean; inflight: number; failures: number; lastError?: string };

type Waiter = { resolve: (pod: PodState) => void; reject: (err: Error) => void; exclude: Set<string> };

/**
 * The engine contract over inference pods: least-loaded routing among healthy pods with a
 * per-pod limit, one bounded queue, health checks and time-outs. A request that no pod can
 * start is refused as ENGINE_OVERLOADED (the API's 503 with Retry-After): the queue is full,
 * no pod is healthy, or every pod it tried answered 503 or did not answer within the time-out
 * (alive but not keeping up). A pod that answers 503 or does not answer is skipped for another
 * one; one that cannot be reached is marked down and skipped too. Once a pod has admitted a
 * request, its heartbeats keep the stream open however slow the device is; only silence for
 * `timeoutMs` (a hung pod, a dead connection), a cut connection or an engine error ends it,
 * as ENGINE_FAILED or the engine's own code. A request that already streamed audio is never
 * retried: its client gets an error instead of audio that jumps.
 */
export function createPodPool(options: PoolOptions): Engine & { pods(): PodState[] } {
  if (options.urls.length === 0) throw new RangeError('a pod pool needs at least one URL');
  const pods: PodState[] = options.urls.map((url) => ({
    url: url.replace(/\/$/, ''),
    healthy: true,
    inflight: 0,
    failures: 0,
  }));
  const waiters: Waiter[] = [];
  let turn = 0;

  const pick = (exclude: Set<string>): PodState | undefined => {
    const free = pods.filter((p) => p.healthy && !exclude.has(p.url) && p.inflight < options.perPod);
    if (free.length === 0) return undefined;
    const least = Math.min(...free.map((p) => p.inflight));
    const ties = free.filter((p) => p.inflight === least);
    return ties[turn++ % ties.length];
  };
  const wake = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      const pod = pick(w.exclude);
      if (!pod) continue;
      waiters.splice(i--, 1);
      pod.inflight++;
      w.resolve(pod);
    }
  };
  const acquire = (exclude: Set<string>, signal?: AbortSignal): Promise<PodState> => {
    const pod = pick(exclude);
    if (pod) {
      pod.inflight++;
      return Promise.resolve(pod);
    }
    if (!pods.some((p) => p.healthy && !exclude.has(p.url))) {
      return Promise.reject(new EngineError('ENGINE_OVERLOADED', 'no healthy inference pod is available'));
    }
    if (waiters.length >= options.queue) {
      return Promise.reject(new EngineError('ENGINE_OVERLOADED', 'every inference pod is busy and the queue is full'));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, exclude };
      waiters.push(w);
      signal?.addEventListener('abort', () => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        reject(new EngineError('CANCELLED', 'request cancelled while queued'));
      });
    });
  };
  const release = (pod: PodState) => {
    pod.inflight--;
    wake();
  };
  const markDown = (pod: PodState, err: unknown) => {
    pod.healthy = false;
    pod.failures++;
    pod.lastError = (err as Error)?.message ?? String(err);
    // Waiters that could only use this pod would wait for nothing.
    for (const w of [...waiters]) {
      if (!pods.some((p) => p.healthy && !w.exclude.has(p.url))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.reject(new EngineError('ENGINE_OVERLOADED', 'no healthy inference pod is available'));
      }
    }
  };

  const check = async (pod: PodState) => {
    try {
      const res = await fetch(`${pod.url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`healthz answered ${res.status}`);
      await res.body?.cancel();
      const was = pod.healthy;
      pod.healthy = true;
      if (!was) wake();
    } catch (err) {
      markDown(pod, err);
    }
  };
  const timer = setInterval(() => pods.forEach(check), options.healthIntervalMs ?? 2000);
  timer.unref();

  /** POSTs to a pod; network failures before a response mark it down and try another. */
  async function post(path: string, body: unknown, signal: AbortSignal | undefined) {
    const tried = new Set<string>();
    for (;;) {
      const pod = await acquire(tried, signal);
      tried.add(pod.url);
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new Error('timed out')), options.timeoutMs);
      try {
        const res = await fetch(`${pod.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
        });
        clearTimeout(timer);
        if (res.status === 503 && tried.size < pods.length) {
          await res.body?.cancel();
          release(pod);
          continue; // this pod is full; another may not be
        }
        return { pod, res, timeout };
      } catch (err) {
        clearTimeout(timer);
        release(pod);
        if (signal?.aborted) throw new EngineError('CANCELLED', 'request cancelled');
        if (timeout.signal.aborted) {
          // A pod answers at once, 200 or 503, so one that took this long is alive but not
          // keeping up (or hung: its health check decides). Nothing has started: try another
          // pod, and with none left refuse the request as overload, which the client may retry.
          if (tried.size >= pods.length) {
            throw new EngineError(
              'ENGINE_OVERLOADED',
              `no inference pod answered within ${options.timeoutMs} ms (last tried: ${pod.url})`,
            );
          }
          continue;
        }
        markDown(pod, err);
        if (tried.size >= pods.length) {
          throw new EngineError('ENGINE_FAILED', `no inference pod could be reached (last: ${(err as Error).message})`);
        }
      }
    }
  }

  /**
   * The next bytes of a pod's answer, or ENGINE_FAILED when the pod stays silent for
   * `timeoutMs` (heartbeats included: a pod that sends nothing at all has hung) or the
   * connection breaks. Undefined when the caller's own signal aborted the read.
   */
  async function read(
    pod: PodState,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    timeout: AbortController,
    signal: AbortSignal | undefined,
  ): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>> | undefined> {
    const idle = setTimeout(() => timeout.abort(new Error('idle')), options.timeoutMs);
    try {
      return await reader.read();
    } catch (err) {
      if (signal?.aborted) return undefined;
      if (!timeout.signal.aborted) markDown(pod, err);
      throw new EngineError(
        'ENGINE_FAILED',
        timeout.signal.aborted
          ? `inference pod ${pod.url} sent nothing, not even a heartbeat, for ${options.timeoutMs} ms`
          : `inference pod ${pod.url} failed mid-stream: ${(err as Error).message}`,
      );
    } finally {
      clearTimeout(idle);
    }
  }

  return {
    pods: () => pods.map((p) => ({ ...p })),
    stats: () => ({ active: pods.reduce((n, p) => n + p.inflight, 0), queued: waiters.length, packages: [] }),
    async computeVoice(packageDir: string, clips: Uint8Array[]): Promise<VoiceConditioning> {
      const { pod, res, timeout } = await post(
        '/v1/voice',
        { package_dir: packageDir, clips: clips.map((c) => Buffer.from(c).toString('base64')) },
        undefined,
      );
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        if (!res.ok || !res.body) throw errorFromJson(res.status, await res.json().catch(() => undefined));
        // The pod sends spaces while the voice waits or is computed, then one JSON object.
        reader = res.body.getReader();
        const parts: Uint8Array[] = [];
        for (;;) {
          const r = await read(pod, reader, timeout, undefined);
          if (!r || r.done) break;
          parts.push(r.value);
        }
        let body: { voice?: VoiceJson; error?: ErrorJson };
        try {
          body = JSON.parse(Buffer.concat(parts).toString('utf8'));
        } catch {
          throw new EngineError('ENGINE_FAILED', `inference pod ${pod.url} sent a voice that is not JSON`);
        }
        if (body.error) throw errorFromJson(500, body.error);
        if (!body.voice) throw new EngineError('ENGINE_FAILED', `inference pod ${pod.url} answered without a voice`);
        return voiceFromJson(body.voice);
      } finally {
        // A locked body is cancelled through its reader (which closes the connection).
        await (reader ?? res.body)?.cancel().catch(() => {});
        release(pod);
      }
    },
    async *synthesize(req: SynthesisRequest): AsyncGenerator<AudioChunk> {
      const { pod, res, timeout } = await post(
        '/v1/synthesize',
        {
          package_dir: req.packageDir,
          text: req.text,
          language: req.language,
          voice: voiceToJson(req.voice),
          params: req.params ?? {},
        },
        req.signal,
      );
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        if (!res.ok || !res.body) throw errorFromJson(res.status, await res.json().catch(() => undefined));
        reader = res.body.getReader();
        const frames = new FrameReader();
        let audio = false;
        for (;;) {
          const r = await read(pod, reader, timeout, req.signal);
          if (!r) return;
          if (r.done) break;
          for (const chunk of frames.push(r.value)) {
            audio = true;
            yield chunk;
          }
          const e = frames.error;
          if (e) {
            // The engine's own error, with its code: before any audio the API answers it as
            // that code (400 for bad text, 503 for overload, 502 for a failed engine).
            if (!audio) throw e;
            throw new EngineError(e.code, `inference pod ${pod.url} failed mid-stream: ${e.message}`, e.field);
          }
        }
        if (!frames.ended) throw new EngineError('ENGINE_FAILED', `inference pod ${pod.url} stopped mid-stream`);
      } finally {
        // A locked body is cancelled through its reader (which closes the connection).
        await (reader ?? res.body)?.cancel().catch(() => {});
        release(pod);
      }
    },
    close: async () => {
      clearInterval(timer);
      for (const w of waiters.splice(0)) w.reject(new EngineError('CANCELLED', 'the pool is closing'));
    },
  };
}
