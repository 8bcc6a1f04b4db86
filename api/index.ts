export { type App, type AppDeps, createApp } from './app.ts';
export { ApiError, type ErrorBody, type ErrorCode, errorStatus } from './errors.ts';
export { createRunListeningTest, jobHandlers, startJobWorkers } from './jobs.ts';
export { createLogger, redactSecrets } from './logger.ts';
export { createMetrics, type HttpMetrics } from './metrics.ts';
export { type CrowdLimits, DEFAULT_CROWD_LIMITS } from './routes/listening/index.ts';
export { startServer } from './server.ts';
