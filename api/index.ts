export { createApp } from './app.ts';
export { stampArrivals } from './arrival.ts';
export { createRunListeningTest, startJobWorkers } from './jobs.ts';
export type { HttpMetrics } from './metrics.ts';
export type { CrowdLimits } from './routes/listening/index.ts';
