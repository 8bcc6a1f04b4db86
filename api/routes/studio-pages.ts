import { type Context, Hono } from 'hono';
import { z } from 'zod';
import {
  type Db,
  datasetClipSummary,
  getDataset,
  getListeningTest,
  getRun,
  listCheckpoints,
  listDatasetClips,
  listMetrics,
  listVoices,
  type OwnerSession,
} from '../../db/index.ts';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { datasetPage } from '../pages/dataset-page.ts';
import type { Frame } from '../pages/layout.ts';
import { lossCurves, runPage, runTest } from '../pages/run-page.ts';
import { studioScript } from '../pages/studio-script.ts';
import { signedOr, type UrlSigner } from '../signed-urls.ts';
import { byStep } from '../training/views.ts';
import { errorText } from './console.ts';

const runNotices: Record<string, string> = {
  'test-coming': 'The listening test is being created; it shows here once it exists (reload to see).',
};

/** Signed in, the pages carry the session's CSRF token for the script's requests. */
const frameOf = (c: Context): Frame => {
  const session = c.get('session' as never) as OwnerSession | null | undefined;
  return session ? { csrf: session.csrfToken } : {};
};

/**
 * The owner pages for datasets and training runs, server-rendered. Like the listening report,
 * they are reached with the owner's session (see sessions.ts) or the admin key; what the
 * browser then fetches by itself carries a signed URL.
 */
export function studioPages(deps: { db: Db; signer: UrlSigner; localSecret?: string | undefined }) {
  const { db } = deps;
  const app = new Hono();
  const admin = requireScope({ db, scope: 'admin', localSecret: deps.localSecret });
  app.use('/datasets/*', admin);
  app.use('/training-runs/*', signedOr(deps.signer, admin));
  const uuid = (value: string) => {
    const id = z.uuid().safeParse(value);
    if (!id.success) throw new ApiError('VALIDATION_FAILED', 'path.id: not a uuid', { field: 'path.id' });
    return id.data;
  };
  const run = async (id: string) => {
    const r = await getRun(db, uuid(id));
    if (!r) throw new ApiError('RUN_NOT_FOUND', 'No training run with that id', { field: 'path.id' });
    return r;
  };

  app.get('/assets/studio.js', (c) =>
    c.body(studioScript, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' }),
  );
  app.get('/datasets/:id', async (c) => {
    const d = await getDataset(db, uuid(c.req.param('id')));
    if (!d) throw new ApiError('DATASET_NOT_FOUND', 'No dataset with that id', { field: 'path.id' });
    const [clips, summary] = await Promise.all([listDatasetClips(db, d.id), datasetClipSummary(db, d.id)]);
    return c.html(datasetPage(d, clips, summary, deps.signer, frameOf(c)));
  });
  app.get('/training-runs/:id', async (c) => {
    const r = await run(c.req.param('id'));
    const [metrics, checkpoints, test, voices] = await Promise.all([
      listMetrics(db, r.id),
      listCheckpoints(db, { runId: r.id }),
      r.listeningTestId ? getListeningTest(db, r.listeningTestId) : undefined,
      r.voiceId ? [] : listVoices(db),
    ]);
    const error = c.req.query('error');
    return c.html(
      runPage(r, metrics, byStep(checkpoints), deps.signer, frameOf(c), test, {
        voices,
        notice: runNotices[c.req.query('notice') ?? ''],
        error: error ? errorText(error) : undefined,
      }),
    );
  });
  // The run's listening test alone, for the page to show it once the worker has created it.
  app.get('/training-runs/:id/test', async (c) => {
    const r = await run(c.req.param('id'));
    return c.html(runTest(r, r.listeningTestId ? await getListeningTest(db, r.listeningTestId) : undefined));
  });
  // The curves alone, for the page to redraw as points arrive.
  app.get('/training-runs/:id/curves', async (c) => {
    const r = await run(c.req.param('id'));
    const [metrics, checkpoints] = await Promise.all([listMetrics(db, r.id), listCheckpoints(db, { runId: r.id })]);
    return c.html(lossCurves(metrics, byStep(checkpoints)));
  });
  return app;
}
