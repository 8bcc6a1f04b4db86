// An inference pod: `npm run pod` (HOST, PORT, INFERENCE_DEVICE, INFERENCE_WORKERS, INFERENCE_QUEUE).
// Model packages are loaded on demand from the folders the API names, so a newly promoted
// checkpoint is picked up without a restart; each worker keeps the most recently used ones open.
// On CUDA a pod claims its GPU first: a second pod on the same GPU stops with a message saying
// how to run more streams instead (device-claim.ts says why).
import { serve } from '@hono/node-server';
import { ConfigError, loadConfig } from '../../infra/index.ts';
import { createEngine, engineOptions } from '../engine/engine.ts';
import { claimCudaDevice, type DeviceClaim, DeviceClaimedError } from './device-claim.ts';
import { createPodApp } from './server.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(78);
}
const { device, workers, streams, queue } = config.inference;
// Requests generating at once: each worker serves `streams` of them (their decode runs batched).
const concurrency = workers * streams;
let claim: DeviceClaim | undefined;
if (device === 'cuda') {
  try {
    claim = await claimCudaDevice(
      config.inference.lockDir,
      config.inference.cudaDevice,
      `port ${config.port}, ${workers} worker(s) x ${streams} stream(s)`,
    );
  } catch (err) {
    if (!(err instanceof DeviceClaimedError)) throw err;
    console.error(`inference pod not started: ${err.message}`);
    process.exit(1);
  }
}
const engine = createEngine(engineOptions(config));
const app = createPodApp(engine, { concurrency, queue });
const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
  const gpu = device === 'cuda' ? ` device ${config.inference.cudaDevice}` : '';
  console.log(
    `inference pod listening on http://${config.host}:${info.port} (${device}${gpu}, ${workers} worker(s) x ${streams} stream(s))`,
  );
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(async () => {
      await engine.close();
      claim?.release();
      process.exit(0);
    });
  });
}
