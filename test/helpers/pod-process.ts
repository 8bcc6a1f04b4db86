// A pod in a process of its own, for fault tests that kill it: prints its URL, then serves.
// Usage: node test/helpers/pod-process.ts <chunkDelayMs>
import { serve } from '@hono/node-server';
import { createPodApp } from '../../inference/index.ts';
import { toneEngine } from './tone-engine.ts';

const delay = Number(process.argv[2] ?? 20);
const app = createPodApp(toneEngine({ chunkSamples: 2400, chunkDelayMs: delay }), { concurrency: 4, queue: 4 });
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(`pod listening on http://127.0.0.1:${info.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
