import { serve } from '@hono/node-server';
import pino from 'pino';
import { listApiKeys, migrate, openDb, pgliteDirFor } from '../db/index.ts';
import { type Config, ConfigError, loadConfig } from '../infra/index.ts';
import { createApp } from './app.ts';
import { DataDirInUseError, takeLock } from './local-admin.ts';

/** Starts the API on the given config; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = pino({ level: config.logLevel });
  // The embedded database belongs to one process: take DATA_DIR's lock before opening it.
  const lock = config.databaseUrl ? undefined : takeLock(config.dataDir);
  const handle = await openDb({ databaseUrl: config.databaseUrl, pgliteDir: pgliteDirFor(config.dataDir) });
  await migrate(handle, config.databaseUrl);
  const app = createApp({
    db: handle.db,
    logger,
    limits: { maxJsonBytes: config.maxJsonBodyBytes, maxUploadBytes: config.maxUploadBytes },
    ...(lock ? { localSecret: lock.secret } : {}),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  lock?.publish(url);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await handle.close();
      lock?.release();
    })();
    return closing;
  };
  return { url, app, handle, logger, close };
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
    if (err instanceof DataDirInUseError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const { url, handle, close, logger } = started;
  const keys = await listApiKeys(handle.db);
  const where = handle.driver === 'pglite' ? `embedded PGlite in ${handle.location}` : `Postgres at ${handle.location}`;
  console.log(`\nXTTS voice studio is listening on ${url}  (database: ${where})`);
  console.log(`  API docs:  ${url}/docs    health: ${url}/healthz`);
  if (!keys.some((k) => k.scope === 'admin' && !k.revokedAt)) {
    console.log('  No admin API key yet. Create one (the server may keep running):');
    console.log('    npm run keys -- create --scope admin --name me\n');
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
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
