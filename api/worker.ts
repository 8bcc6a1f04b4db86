/**
 * `npm run worker`: job workers alone (no HTTP), sharing a Postgres server's queue with the API
 * and with other workers, e.g. one per GPU host. Listening-test stimuli of finished runs are
 * rendered with an in-process engine (CPU unless INFERENCE_DEVICE says otherwise).
 */
import { join } from 'node:path';
import { migrate, openDb } from '../db/index.ts';
import { createEngine, engineOptions } from '../inference/index.ts';
import { ConfigError, loadConfig, localStorage } from '../infra/index.ts';
import { fileAudioStore } from '../listening/index.ts';
import { stimulusRenderer } from '../voices/index.ts';
import { startJobWorkers } from './jobs.ts';
import { createLogger } from './logger.ts';

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  if (!config.databaseUrl) {
    console.error(
      'npm run worker needs DATABASE_URL (a Postgres server): the embedded database belongs to the server, ' +
        'and `npm start` already runs a worker beside it (JOB_WORKERS, default 1).',
    );
    process.exit(78);
  }
  const logger = createLogger({ level: config.logLevel });
  const handle = await openDb({ databaseUrl: config.databaseUrl });
  await migrate(handle, config.databaseUrl);
  const engine = createEngine(engineOptions(config));
  const workers = startJobWorkers({
    db: handle.db,
    storage: localStorage(config.dataDir),
    modelDir: config.modelDir,
    logger,
    audio: fileAudioStore(join(config.dataDir, 'listening')),
    renderStimulus: stimulusRenderer({ db: handle.db, engine, dataDir: config.dataDir, modelDir: config.modelDir }),
    count: Math.max(1, config.jobWorkers),
    shortCount: config.jobShortWorkers,
    kinds: config.jobKinds,
    trainerGpus: config.trainerGpus,
    leaseMs: config.jobLeaseMs,
    stopWhenIdle: config.workerExitWhenIdle,
  });
  logger.info({ workers: workers.map((w) => w.id), kinds: config.jobKinds }, 'job workers started');
  const shutdown = (why: string) => {
    logger.info({ why }, 'stopping: running jobs go back to the queue');
    Promise.all(workers.map((w) => w.stop()))
      .then(() => engine.close())
      .then(() => handle.close())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => shutdown(signal));
  // A worker started for one Kubernetes Job ends once the queue has nothing more for it.
  if (config.workerExitWhenIdle) Promise.all(workers.map((w) => w.done)).then(() => shutdown('idle'));
}

if (import.meta.main) await main();
