import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, PodState } from '../inference/index.ts';

export type HttpMetrics = {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route' | 'status'>;
  /** Synthesis: requests by outcome, time to the first audio, real-time factor. */
  ttsRequests: Counter<'route' | 'format' | 'outcome'>;
  ttsFirstAudio: Histogram<'route'>;
  ttsRealTimeFactor: Histogram<'route'>;
};

/** One registry per app, so several apps (tests, a pod beside the API) never share counters. */
export function createMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to the first byte for streamed bodies)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const ttsRequests = new Counter({
    name: 'tts_requests_total',
    help: 'Synthesis requests by route, audio format and outcome (ok, error, aborted)',
    labelNames: ['route', 'format', 'outcome'] as const,
    registers: [registry],
  });
  const ttsFirstAudio = new Histogram({
    name: 'tts_time_to_first_audio_seconds',
    help: 'Time from the request to its first audio chunk',
    labelNames: ['route'] as const,
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
    registers: [registry],
  });
  const ttsRealTimeFactor = new Histogram({
    name: 'tts_real_time_factor',
    help: 'Generation time divided by audio duration (below 1 is faster than real time)',
    labelNames: ['route'] as const,
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4, 8],
    registers: [registry],
  });
  return { registry, requests, duration, ttsRequests, ttsFirstAudio, ttsRealTimeFactor };
}

/**
 * Engine gauges, read when Prometheus scrapes: requests generating and waiting, and with
 * inference pods, each pod's requests in flight and health.
 */
export function observeEngine(registry: Registry, engine: Engine & { pods?: () => PodState[] }): void {
  new Gauge({
    name: 'inference_active_requests',
    help: 'Syntheses generating now',
    registers: [registry],
    collect() {
      this.set(engine.stats().active);
    },
  });
  new Gauge({
    name: 'inference_queue_depth',
    help: 'Syntheses waiting for the engine (or, with pods, for a free pod)',
    registers: [registry],
    collect() {
      this.set(engine.stats().queued);
    },
  });
  const pods = engine.pods?.bind(engine);
  if (!pods) return;
  new Gauge({
    name: 'inference_pod_inflight',
    help: 'Requests in flight to each inference pod',
    labelNames: ['pod'] as const,
    registers: [registry],
    collect() {
      for (const p of pods()) this.set({ pod: p.url }, p.inflight);
    },
  });
  new Gauge({
    name: 'inference_pod_healthy',
    help: 'Whether each inference pod passes its health check (1) or not (0)',
    labelNames: ['pod'] as const,
    registers: [registry],
    collect() {
      for (const p of pods()) this.set({ pod: p.url }, p.healthy ? 1 : 0);
    },
  });
}
