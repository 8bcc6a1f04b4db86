import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { serve } from '@hono/node-server';
import { defaultBaseCheckpoint, listApiKeys, migrate, openDb, pgliteDirFor } from '../db/index.ts';
import { createAudioSandbox, createEngine, createPodPool, type Engine, engineOptions } from '../inference/index.ts';
import { type Config, ConfigError, limits, loadConfig, localStorage } from '../infra/index.ts';
import { fileAudioStore } from '../listening/index.ts';
import { kubernetesLauncherOptions, projectPythonReady, startKubernetesLauncher } from '../trainer/index.ts';
import { reconcileCheckpointKinds, registerModelDir, stimulusRenderer } from '../voices/index.ts';
import { createApp } from './app.ts';
import { stampArrivals } from './arrival.ts';
import { startJobWorkers } from './jobs.ts';
import { DataDirInUseError, takeLock } from './local-admin.ts';
import { createLogger } from './logger.ts';

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Starts the API on the given config; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = createLogger({ level: config.logLevel });
  // The embedded database belongs to one process: take DATA_DIR's lock before opening it.
  const lock = config.databaseUrl ? undefined : takeLock(config.dataDir);
  const handle = await openDb({ databaseUrl: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir) });
  await migrate(handle, config.databaseUrl);
  await reconcileCheckpointKinds(handle.db);
  const registered = await registerModelDir(handle.db, config.modelDir);
  for (const k of registered) logger.info({ checkpoint: k.id, package: k.packagePath }, 'registered model package');
  const engine = createEngineFor(config);
  const audio = createAudioSandbox({ warm: true });
  const storage = localStorage(config.dataDir);
  const i = config.inference;
  const capacity = config.inferenceUrls.length ? config.inferenceUrls.length * i.perPod : i.workers * i.streams;
  const app = createApp({
    db: handle.db,
    engine,
    maxInFlight: capacity + i.queue,
    dataDir: config.dataDir,
    modelDir: config.modelDir,
    logger,
    limits: {
      maxJsonBytes: config.maxJsonBodyBytes,
      maxUploadBytes: config.maxUploadBytes,
      maxDatasetUploadBytes: config.maxDatasetUploadBytes,
    },
    storage,
    audio,
    ...(config.urlSecret ? { urlSecret: new TextEncoder().encode(config.urlSecret) } : {}),
    trustedProxies: config.trustedProxies,
    lookupMaxAgeMs: config.lookupMaxAgeMs,
    ...(lock ? { localSecret: lock.secret } : {}),
  });
  let server: ReturnType<typeof serve>;
  try {
    server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
      stampArrivals(s as Server);
      s.once('error', reject);
    });
  } catch (err) {
    // Nothing listens: give back what was opened, so the data folder stays usable.
    await audio.close();
    await engine.close();
    await handle.close();
    lock?.release();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new PortInUseError(`${config.host}:${config.port} is in use (another server?): stop it, or set PORT`);
    }
    throw err;
  }
  // Dataset builds and training runs: workers in this process share the queue with any others.
  const workers = startJobWorkers({
    db: handle.db,
    storage,
    modelDir: config.modelDir,
    logger,
    audio: fileAudioStore(join(config.dataDir, 'listening')),
    renderStimulus: stimulusRenderer({ db: handle.db, engine, dataDir: config.dataDir, modelDir: config.modelDir }),
    count: config.jobWorkers,
    shortCount: config.jobShortWorkers,
    kinds: config.jobKinds,
    trainerGpus: config.trainerGpus,
    leaseMs: config.jobLeaseMs,
  });
  // At scale, each training run becomes a Kubernetes Job whose pod runs a worker for it.
  const launcher =
    config.trainingLauncher === 'kubernetes'
      ? startKubernetesLauncher({ db: handle.db, logger, ...kubernetesLauncherOptions(config) })
      : undefined;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  lock?.publish(url);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // No new connections; uploads being checked are cancelled; idle keep-alive connections
      // go now, and whatever still streams is cut once half the grace period has passed.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await audio.close();
      const http = server as unknown as { closeIdleConnections?(): void; closeAllConnections?(): void };
      http.closeIdleConnections?.();
      const cut = setTimeout(() => http.closeAllConnections?.(), limits.shutdown.graceMs / 2);
      await closed;
      clearTimeout(cut);
      // A running job goes back to the queue; the next start (or another worker) resumes it.
      await Promise.all(workers.map((w) => w.stop()));
      await launcher?.stop();
      await engine.close();
      await handle.close();
      lock?.release();
    })();
    return closing;
  };
  return { url, app, handle, logger, engine, workers, close };
}

/** Pods when INFERENCE_URLS names them, else the engine in this process (worker threads). */
function createEngineFor(config: Config): Engine {
  const i = config.inference;
  if (config.inferenceUrls.length > 0) {
    return createPodPool({ urls: config.inferenceUrls, perPod: i.perPod, queue: i.queue, timeoutMs: i.timeoutMs });
  }
  // In the API process, leave a core to the event loop: HTTP, the database and streaming.
  const intraOpThreads = i.threads ?? Math.max(1, Math.floor((availableParallelism() - 1) / i.workers));
  return createEngine({ ...engineOptions(config), intraOpThreads });
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  let started: Awaited<ReturnType<typeof startServer>>;
  try {
    started = await startServer(config);
  } catch (err) {
    if (err instanceof DataDirInUseError || err instanceof PortInUseError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const { url, handle, close, logger } = started;
  const keys = await listApiKeys(handle.db);
  const where = handle.driver === 'pglite' ? `embedded PGlite in ${handle.location}` : `Postgres at ${handle.location}`;
  const inference = config.inferenceUrls.length
    ? `${config.inferenceUrls.length} inference pod(s)`
    : `in-process engine on ${config.inference.device}`;
  console.log(`\nXTTS voice studio is listening on ${url}  (database: ${where}; ${inference})`);
  console.log(`  Try a voice: ${url}/    API docs: ${url}/docs    health: ${url}/healthz`);
  if (!(await defaultBaseCheckpoint(handle.db))) {
    // Paths as the reader would type them in the folder the server was started from.
    const shown = (p: string) => {
      const r = relative(process.cwd(), p);
      return r && !r.startsWith('..') && !isAbsolute(r) ? r : p;
    };
    const tiny = join(import.meta.dirname, '..', 'test', 'fixtures', 'tiny', 'package');
    const models = shown(config.modelDir);
    console.log(`  No model package yet: \`npm run model:pull\` fetches XTTS-v2 into ${models}.`);
    if (existsSync(tiny)) {
      console.log('  Offline, the tiny random-weight test model (it speaks noise) runs everything end to end:');
      console.log(`    mkdir -p ${models} && cp -r ${shown(tiny)} ${models}/tiny`);
    }
  }
  if (!config.python && !projectPythonReady()) {
    console.log("  Datasets and training need the trainer's Python environment: `npm run setup:python` (once).");
  }
  if (!keys.some((k) => k.scope === 'admin' && !k.revokedAt)) {
    console.log('  No admin API key yet. Create one (the server may keep running):');
    console.log('    npm run keys -- create --scope admin --name me\n');
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      // Whatever is still running (a stuck job, a worker inside a native call), the process ends in bounded time.
      setTimeout(() => {
        logger.error({ graceMs: limits.shutdown.graceMs }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }, limits.shutdown.graceMs).unref();
      close().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.main) await main();
