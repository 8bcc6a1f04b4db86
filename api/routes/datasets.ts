import { Readable } from 'node:stream';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import {
  createDatasetWithBuild,
  type Db,
  datasetClipSummary,
  deleteDataset,
  getDataset,
  getDatasetClip,
  listDatasetClips,
  listDatasetRecordings,
  listDatasets,
  listRuns,
  requestCancel,
  updateDatasetClip,
} from '../../db/index.ts';
import type { Storage } from '../../infra/index.ts';
import { ljspeechEntries } from '../datasets/ljspeech.ts';
import { createDatasetDoc, datasetRoutes as routes } from '../datasets/openapi.ts';
import { chunkers, DatasetOptions, XTTS_LANGUAGES } from '../datasets/options.ts';
import { type TarEntry, tarStream } from '../datasets/tar.ts';
import { receiveDatasetUpload, safeName } from '../datasets/upload.ts';
import { clipJson, datasetJson } from '../datasets/views.ts';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { signedOr, type UrlSigner } from '../signed-urls.ts';
import { pollingEvents } from '../sse.ts';
import { validationHook } from '../validation.ts';

export type DatasetRouteDeps = {
  db: Db;
  storage: Storage;
  signer: UrlSigner;
  maxUploadBytes: number;
  /** How often event streams look at the row (ms). */
  pollMs?: number | undefined;
  localSecret?: string | undefined;
};

const Name = z.string().trim().min(1).max(200);
const Language = z.enum(XTTS_LANGUAGES, {
  message: `one of the languages XTTS-v2 speaks: ${XTTS_LANGUAGES.join(', ')}`,
});
const Chunker = z.enum(chunkers);

const invalid = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `${field}: ${message}`, { field });

function parseOptions(value: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw invalid('body.options', 'not valid JSON');
  }
  const parsed = DatasetOptions.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue ? [...issue.path, ...(issue.code === 'unrecognized_keys' ? [issue.keys[0]] : [])] : [];
    const field = ['body.options', ...path.map(String)].join('.');
    throw invalid(field, issue?.code === 'unrecognized_keys' ? 'unknown option' : (issue?.message ?? 'invalid'));
  }
  return parsed.data;
}

/** Each text field is checked as it arrives, so a bad language is refused before hours of audio are stored. */
function checkField(name: string, value: string): void {
  const schema = { name: Name, language: Language, chunker: Chunker }[name];
  if (schema) {
    const r = schema.safeParse(value);
    if (!r.success) throw invalid(`body.${name}`, r.error.issues[0]?.message ?? 'invalid');
  } else if (name === 'options') parseOptions(value);
}

export function datasetRoutesApp(deps: DatasetRouteDeps) {
  const { db, storage } = deps;
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const admin = requireScope({ db, scope: 'admin', localSecret: deps.localSecret });
  app.use('/v1/datasets', admin);
  app.use('/v1/datasets/*', signedOr(deps.signer, admin));
  const pollMs = deps.pollMs ?? 500;

  const found = async (id: string) => {
    const d = await getDataset(db, id);
    if (!d) throw new ApiError('DATASET_NOT_FOUND', 'No dataset with that id', { field: 'path.id' });
    return d;
  };

  app.openAPIRegistry.registerPath(createDatasetDoc);
  // The options travel as a JSON string inside the multipart body; their schema is listed on its own.
  app.openAPIRegistry.register('DatasetOptions', DatasetOptions);
  app.post('/v1/datasets', async (c) => {
    const upload = await receiveDatasetUpload(c.req.raw, { storage, maxBytes: deps.maxUploadBytes, checkField });
    try {
      const f = upload.fields;
      if (f.name === undefined) throw invalid('body.name', 'required');
      if (f.language === undefined) throw invalid('body.language', 'required');
      const { dataset, recordings } = await createDatasetWithBuild(db, {
        id: upload.id,
        name: f.name.trim(),
        language: f.language,
        source: upload.source,
        // An LJSpeech import is already cut into clips.
        chunker: upload.source === 'ljspeech' ? null : ((f.chunker as (typeof chunkers)[number]) ?? 'sentence'),
        options: parseOptions(f.options ?? '{}'),
        recordings: upload.files.map((r) => ({
          id: r.id,
          name: r.name,
          path: r.path,
          bytes: r.bytes,
          sha256: r.sha256,
          transcript: r.transcript,
        })),
      });
      return c.json(datasetJson(dataset, { recordings }), 202);
    } catch (err) {
      await upload.discard();
      throw err;
    }
  });

  return app
    .openapi(routes.list, async (c) => c.json({ data: (await listDatasets(db)).map((d) => datasetJson(d)) }, 200))
    .openapi(routes.get, async (c) => {
      const d = await found(c.req.valid('param').id);
      const [summary, recordings] = await Promise.all([datasetClipSummary(db, d.id), listDatasetRecordings(db, d.id)]);
      return c.json(datasetJson(d, { summary, recordings }), 200);
    })
    .openapi(routes.remove, async (c) => {
      const d = await found(c.req.valid('param').id);
      const inUse = async () => {
        const runs = await listRuns(db, { datasetId: d.id });
        if (runs.length) {
          throw new ApiError('DATASET_IN_USE', `Training run ${runs[0]?.id} uses this dataset; delete it first`, {
            field: 'path.id',
          });
        }
      };
      await inUse();
      // A build still queued or running is stopped; its worker finds the dataset gone.
      if (d.jobId !== null && (d.status === 'queued' || d.status === 'processing')) await requestCancel(db, d.jobId);
      try {
        await deleteDataset(db, d.id);
      } catch (err) {
        await inUse(); // a run created meanwhile holds the row (foreign key)
        throw err;
      }
      await storage.remove(`datasets/${d.id}`);
      return c.body(null, 204);
    })
    .openapi(routes.events, async (c) => {
      const { id } = c.req.valid('param');
      await found(id);
      let last = '';
      return pollingEvents(c, pollMs, async (send) => {
        const d = await getDataset(db, id);
        if (!d) {
          await send('failed', {
            status: 'deleted',
            error_code: 'DATASET_NOT_FOUND',
            error: 'The dataset was deleted',
          });
          return false;
        }
        const p = d.progress ?? {};
        const progress = {
          status: d.status,
          stage: p.stage ?? null,
          fraction: p.fraction ?? null,
          message: p.message ?? null,
        };
        const key = JSON.stringify(progress);
        if (key !== last) {
          last = key;
          await send('progress', progress);
        }
        if (d.status === 'ready') await send('done', { status: d.status, report: d.report });
        if (d.status === 'failed') await send('failed', { status: d.status, error_code: d.errorCode, error: d.error });
        return d.status !== 'ready' && d.status !== 'failed';
      }) as never;
    })
    .openapi(routes.clips, async (c) => {
      const d = await found(c.req.valid('param').id);
      const q = c.req.valid('query');
      const clips = await listDatasetClips(db, d.id, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.split ? { split: q.split } : {}),
      });
      return c.json({ data: clips.map(clipJson) }, 200);
    })
    .openapi(routes.audio, async (c) => {
      const { id, clip_id: clipId } = c.req.valid('param');
      const clip = await getDatasetClip(db, id, clipId);
      const size = clip ? await storage.size(clip.path) : undefined;
      if (!clip || size === undefined) {
        throw new ApiError('CLIP_NOT_FOUND', 'No clip (or no audio) with that id in this dataset', {
          field: 'path.clip_id',
        });
      }
      return c.body(Readable.toWeb(storage.read(clip.path)) as ReadableStream, 200, {
        'Content-Type': 'audio/wav',
        'Content-Length': String(size),
        'Cache-Control': 'private, max-age=3600',
      }) as never;
    })
    .openapi(routes.patch, async (c) => {
      const { id, clip_id: clipId } = c.req.valid('param');
      const clip = await updateDatasetClip(db, id, clipId, c.req.valid('json'));
      if (!clip)
        throw new ApiError('CLIP_NOT_FOUND', 'No clip with that id in this dataset', { field: 'path.clip_id' });
      return c.json(clipJson(clip), 200);
    })
    .openapi(routes.ljspeech, async (c) => {
      const d = await found(c.req.valid('param').id);
      if (d.status !== 'ready') {
        throw new ApiError('DATASET_NOT_READY', `The dataset is ${d.status}; its archive exists once it is ready`, {
          field: 'path.id',
        });
      }
      const entries = await ljspeechEntries(storage, await listDatasetClips(db, d.id));
      const length = entries.reduce((n, e: TarEntry) => n + 512 + Math.ceil(e.size / 512) * 512, 1024);
      return c.body(ReadableStream.from(tarStream(entries)) as ReadableStream, 200, {
        'Content-Type': 'application/x-tar',
        'Content-Length': String(length),
        'Content-Disposition': `attachment; filename="${safeName(d.name)}-ljspeech.tar"`,
      }) as never;
    });
}
