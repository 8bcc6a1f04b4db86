// An inference pod: `npm run pod` (HOST, PORT, INFERENCE_DEVICE, INFERENCE_WORKERS, INFERENCE_QUEUE).
// Model packages are loaded on demand from the folders the API names, so a newly promoted
// checkpoint is picked up without a restart; each worker keeps the most recently used ones open.
import { serve } from '@hono/node-server';
import { ConfigError, loadConfig } from '../../infra/index.ts';
import { createEngine, engineOptions } from '../engine/engine.ts';
import { createPodApp } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(78);
}
const { device, workers, queue } = config.inference;
const engine = createEngine(engineOptions(config));
const app = createPodApp(engine, { concurrency: workers, queue });
const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
  console.log(`inference pod listening on http://${config.host}:${info.port} (${device}, ${workers} worker(s))`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(async () => {
      await engine.close();
      process.exit(0);
    });
  });
}
