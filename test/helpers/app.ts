import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import supertest from 'supertest';
import { type CrowdLimits, createApp, stampArrivals } from '../../api/index.ts';
import { createApiKey } from '../../db/index.ts';
import type { Engine } from '../../inference/index.ts';
import { openTestDb, type TestDb } from './db.ts';

/** The app on a fresh migrated database, a supertest agent on it, and one key of each scope. */
export async function testApp(
  options: {
    maxJsonBytes?: number;
    engine?: Engine;
    dataDir?: string;
    modelDir?: string;
    maxInFlight?: number;
    maxDatasetUploadBytes?: number;
    eventsPollMs?: number;
    /** The crowd routes' rate limits (the server's defaults when left out). */
    crowdLimits?: CrowdLimits;
    /** The app's logger (silent when left out). */
    logger?: Logger;
    /**
     * LOOKUP_MAX_AGE_MS (db/queries/lookups.ts). Default a minute, far beyond any test: synthesis requests
     * reuse their key, voice and checkpoint lookups as the server does, so a write that does not forget
     * them fails the tests that read after it instead of passing by timing.
     */
    lookupMaxAgeMs?: number;
  } = {},
) {
  const db: TestDb = await openTestDb();
  const app = createApp({
    db: db.db,
    limits: {
      maxJsonBytes: options.maxJsonBytes ?? 64 * 1024,
      maxUploadBytes: 8 * 1024 * 1024,
      ...(options.maxDatasetUploadBytes ? { maxDatasetUploadBytes: options.maxDatasetUploadBytes } : {}),
    },
    ...(options.eventsPollMs ? { eventsPollMs: options.eventsPollMs } : {}),
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.modelDir ? { modelDir: options.modelDir } : {}),
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.crowdLimits ? { listening: { crowdLimits: options.crowdLimits } } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    lookupMaxAgeMs: options.lookupMaxAgeMs ?? 60_000,
  });
  const server = createAdaptorServer({ fetch: app.fetch });
  stampArrivals(server as Server); // as api/server.ts does
  const request = supertest(server);
  const admin = (await createApiKey(db.db, { name: 'test admin', scope: 'admin' })).token;
  const synth = (await createApiKey(db.db, { name: 'test synth', scope: 'synth' })).token;
  return {
    app,
    db,
    request,
    tokens: { admin, synth },
    auth: (token: string) => ({ Authorization: `Bearer ${token}` }),
    close: async () => {
      server.close();
      await db.dispose();
    },
  };
}
