import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Db } from '../db/index.ts';
import { type AudioSandbox, createAudioSandbox, type Engine } from '../inference/index.ts';
import { localStorage, type Storage } from '../infra/index.ts';
import { fileAudioStore } from '../listening/index.ts';
import { stimulusRenderer } from '../voices/index.ts';
import { ApiError, errorResponse, onError } from './errors.ts';
import { createLogger, redactSecrets } from './logger.ts';
import { createMetrics, type HttpMetrics, observeEngine } from './metrics.ts';
import { limitBodies } from './middleware/body-limit.ts';
import { observe } from './middleware/observe.ts';
import { trustedProxyList, trustProxies } from './middleware/rate-limit.ts';
import { checkpointRoutes } from './routes/checkpoints.ts';
import { consoleRoutes } from './routes/console.ts';
import { datasetRoutesApp } from './routes/datasets.ts';
import { docsRoutes } from './routes/docs.ts';
import { healthRoutes } from './routes/health.ts';
import { homeRoutes } from './routes/home.ts';
import { keyRoutes } from './routes/keys.ts';
import { crowdDocs } from './routes/listening/crowd-docs.ts';
import { type ListeningAppDeps, listeningAdmin, listeningCrowd } from './routes/listening/index.ts';
import { appDocs, consoleDocs, studioPageDocs } from './routes/page-docs.ts';
import { speechRoutes } from './routes/speech.ts';
import { studioPages } from './routes/studio-pages.ts';
import { trainingRoutes } from './routes/training.ts';
import { voiceRoutes } from './routes/voices.ts';
import { urlSigner } from './signed-urls.ts';
import { validationHook } from './validation.ts';

export type AppDeps = {
  db: Db;
  /** The synthesis engine (in-process or the pod pool); without it synthesis answers 503. */
  engine?: Engine;
  /** Syntheses admitted at once (engine capacity plus queue); beyond it, 503 before any work. */
  maxInFlight?: number;
  /** Where uploads and rendered audio live, and where model packages are. */
  dataDir?: string;
  modelDir?: string;
  logger?: Logger;
  metrics?: HttpMetrics;
  /** `maxDatasetUploadBytes` (default 8 GiB) caps dataset uploads, which are streamed, not buffered. */
  limits?: { maxJsonBytes: number; maxUploadBytes: number; maxDatasetUploadBytes?: number };
  /** Recordings, built datasets and training files; a folder under `dataDir` when left out. */
  storage?: Storage;
  /** How often dataset and training-run event streams look at their rows (ms, default 500). */
  eventsPollMs?: number;
  /** Secret of the signed URLs the owner pages embed (audio, events, downloads); random per process when left out. */
  urlSecret?: Uint8Array;
  /** Accepted as an admin key: the secret the server shares with the key CLI (local-admin.ts). */
  localSecret?: string;
  /** Stimulus storage and rendering for listening tests, and the crowd's rate limits. */
  listening?: ListeningAppDeps;
  /** Where uploaded audio is decoded and checked; one of the app's own when left out. */
  audio?: AudioSandbox;
  /**
   * LOOKUP_MAX_AGE_MS: how long synthesis requests may reuse a recent lookup of their key, voice and
   * checkpoint (db/queries/lookups.ts); 0 (every request queries) when left out.
   */
  lookupMaxAgeMs?: number;
  /** TRUSTED_PROXIES: reverse proxies whose X-Forwarded-For names the client (none when left out). */
  trustedProxies?: readonly string[];
};

export const API_VERSION = '0.1.0';

/** The one app factory: the server and every test build the API through it. */
export function createApp(deps: AppDeps) {
  const logger = deps.logger ?? createLogger({ level: 'silent' });
  const metrics = deps.metrics ?? createMetrics();
  if (deps.engine) observeEngine(metrics.registry, deps.engine);
  const limits = deps.limits ?? { maxJsonBytes: 1024 * 1024, maxUploadBytes: 512 * 1024 * 1024 };

  const app = new OpenAPIHono({ defaultHook: validationHook });
  app.use(requestId());
  app.use(trustProxies(deps.trustedProxies?.length ? trustedProxyList(deps.trustedProxies) : undefined));
  app.use(observe({ logger, metrics }));
  // These routes stream multipart bodies to disk and count them against their own limits.
  app.use(limitBodies({ ...limits, streamedUploads: ['/v1/datasets', '/v1/voices', '/v1/listening/tests/*'] }));
  app.onError(onError(logger));
  // The path may carry a rater token: the message names the route without it.
  app.notFound((c) =>
    errorResponse(c, new ApiError('NOT_FOUND', `No route for ${c.req.method} ${redactSecrets(c.req.path)}`)),
  );

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  // Routes whose handlers read their own bodies (forms, pages) are documented from these.
  const document = (docs: Parameters<typeof app.openAPIRegistry.registerPath>[0][]) => {
    for (const doc of docs) app.openAPIRegistry.registerPath(doc);
  };
  const dataDir = deps.dataDir ?? join(tmpdir(), 'xtts-studio');
  const modelDir = deps.modelDir ?? join(dataDir, 'models');
  const shared = { db: deps.db, engine: deps.engine, dataDir, modelDir, localSecret: deps.localSecret };
  const audio = deps.audio ?? createAudioSandbox();
  const storage = deps.storage ?? localStorage(dataDir);
  // Stimuli render through the same path as /v1/tts unless a test supplies its own renderer.
  const listening = {
    ...deps.listening,
    renderStimulus: deps.listening?.renderStimulus ?? (deps.engine ? stimulusRenderer(shared) : undefined),
  };
  app.route('/', healthRoutes(deps));
  // Before the other owner pages: its middleware sets their security headers.
  app.route(
    '/',
    consoleRoutes({
      ...deps,
      // A run's listening test made from the console goes the job worker's way (api/jobs.ts).
      tests: {
        storage,
        modelDir,
        logger,
        audio: listening.audio ?? fileAudioStore(join(dataDir, 'listening')),
        renderStimulus: listening.renderStimulus,
      },
    }),
  );
  document(consoleDocs);
  app.route('/', keyRoutes(deps));
  app.route('/', checkpointRoutes({ ...shared, modelDir }));
  app.route('/', voiceRoutes({ ...shared, audio, maxUploadBytes: limits.maxUploadBytes }));
  const studio = {
    db: deps.db,
    storage,
    signer: urlSigner(deps.urlSecret),
    pollMs: deps.eventsPollMs,
    localSecret: deps.localSecret,
  };
  app.route('/', datasetRoutesApp({ ...studio, maxUploadBytes: limits.maxDatasetUploadBytes ?? 8 * 1024 ** 3 }));
  app.route('/', trainingRoutes(studio));
  app.route('/', studioPages(studio));
  document(studioPageDocs);
  app.route(
    '/',
    speechRoutes({ ...shared, metrics, logger, maxInFlight: deps.maxInFlight, lookupMaxAgeMs: deps.lookupMaxAgeMs }),
  );
  app.route(
    '/',
    listeningAdmin({ ...deps, dataDir, listening, audioSandbox: audio, maxUploadBytes: limits.maxUploadBytes }),
  );
  app.route('/', listeningCrowd({ ...deps, dataDir, listening }));
  document(crowdDocs);

  const openApiConfig = {
    openapi: '3.1.0',
    info: {
      title: 'XTTS voice studio',
      version: API_VERSION,
      description:
        'Personal voices with XTTS-v2: datasets, fine-tuning, listener-chosen checkpoints, streamed synthesis.',
    },
  };
  app.doc31('/openapi.json', openApiConfig);
  app.route(
    '/',
    docsRoutes(() => app.getOpenAPI31Document(openApiConfig) as never),
  );
  app.route(
    '/',
    new Hono().get('/metrics', async (c) => {
      c.header('Content-Type', metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    }),
  );
  app.route('/', homeRoutes());
  document(appDocs);
  return app;
}

export type App = ReturnType<typeof createApp>;
