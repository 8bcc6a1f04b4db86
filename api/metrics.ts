import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

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
