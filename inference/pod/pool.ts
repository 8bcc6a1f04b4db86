import {
  type AudioChunk,
  type Engine,
  EngineError,
  type SynthesisRequest,
  type VoiceConditioning,
} from '../engine/types.ts';
import { errorFromJson, FrameReader, type VoiceJson, voiceFromJson, voiceToJson } from './protocol.ts';

export type PoolOptions = {
  /** Base URLs of the inference pods. */
  urls: string[];
  /** Requests this API sends to one pod at once. */
  perPod: number;
  /** Requests waiting for a free pod; beyond this, ENGINE_OVERLOADED (503). */
  queue: number;
  /** Longest wait for a pod's first byte, and between two chunks of a stream. */
  timeoutMs: number;
  healthIntervalMs?: number;
};

export type PodState = { url: string; healthy: boolean; inflight: number; failures: number; lastError?: string };

type Waiter = { resolve: (pod: PodState) => void; reject: (err: Error) => void; exclude: Set<string> };

/**
 * The engine contract over inference pods: least-loaded routing among healthy pods with a
 * per-pod limit, one bounded queue, health checks, timeouts, and at most one retry on another
 * pod for a request that failed before any audio came back. A request that already streamed
 * audio is never retried: its client gets an error instead of audio that jumps.
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
          throw new EngineError(
            'ENGINE_FAILED',
            `inference pod ${pod.url} did not answer within ${options.timeoutMs} ms`,
          );
        }
        markDown(pod, err);
        if (tried.size >= pods.length) {
          throw new EngineError('ENGINE_FAILED', `no inference pod could be reached (last: ${(err as Error).message})`);
        }
      }
    }
  }

  return {
    pods: () => pods.map((p) => ({ ...p })),
    stats: () => ({ active: pods.reduce((n, p) => n + p.inflight, 0), queued: waiters.length, packages: [] }),
    async computeVoice(packageDir: string, clips: Uint8Array[]): Promise<VoiceConditioning> {
      const { pod, res } = await post(
        '/v1/voice',
        { package_dir: packageDir, clips: clips.map((c) => Buffer.from(c).toString('base64')) },
        undefined,
      );
      try {
        const body = await res.json();
        if (!res.ok) throw errorFromJson(res.status, body);
        return voiceFromJson(body as VoiceJson);
      } finally {
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
      try {
        if (!res.ok || !res.body) throw errorFromJson(res.status, await res.json().catch(() => undefined));
        const reader = res.body.getReader();
        const frames = new FrameReader();
        for (;;) {
          const idle = setTimeout(() => timeout.abort(new Error('idle')), options.timeoutMs);
          let r: Awaited<ReturnType<typeof reader.read>>;
          try {
            r = await reader.read();
          } catch (err) {
            if (req.signal?.aborted) return;
            if (!timeout.signal.aborted) markDown(pod, err);
            throw new EngineError(
              'ENGINE_FAILED',
              timeout.signal.aborted
                ? `inference pod ${pod.url} sent nothing for ${options.timeoutMs} ms`
                : `inference pod ${pod.url} failed mid-stream: ${(err as Error).message}`,
            );
          } finally {
            clearTimeout(idle);
          }
          if (r.done) break;
          for (const chunk of frames.push(r.value)) yield chunk;
        }
        if (!frames.ended) throw new EngineError('ENGINE_FAILED', `inference pod ${pod.url} stopped mid-stream`);
      } finally {
        await res.body?.cancel().catch(() => {});
        release(pod);
      }
    },
    close: async () => {
      clearInterval(timer);
      for (const w of waiters.splice(0)) w.reject(new EngineError('CANCELLED', 'the pool is closing'));
    },
  };
}
