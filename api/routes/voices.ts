import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  type Db,
  deleteVoice,
  getVoice,
  listVoiceClips,
  listVoices,
  updateVoice,
  type Voice,
  type VoiceClip,
} from '../../db/index.ts';
import type { Engine } from '../../inference/index.ts';
import { ApiError } from '../errors.ts';
import { requireScope } from '../middleware/auth.ts';
import { createVoice, removeVoiceFiles, type Upload } from '../synthesis/voices.ts';
import { errorResponses, jsonBody, validationHook } from '../validation.ts';

const MAX_CLIPS = 10;

const Clip = z.object({ id: z.uuid(), duration_s: z.number(), sample_rate: z.number().int() }).openapi('VoiceClip');
const VoiceJson = z
  .object({
    id: z.uuid(),
    name: z.string(),
    language: z.string(),
    description: z.string().nullable(),
    checkpoint_id: z.uuid().nullable().openapi({ description: 'The promoted checkpoint; null means the base model' }),
    clips: z.array(Clip).optional(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Voice');

const file = z.custom<File>((v) => v instanceof File, { message: 'expected an audio file' });
const CreateVoice = z
  .object({
    name: z.string().trim().min(1).max(100),
    language: z.string().trim().min(2).max(10).openapi({ example: 'en' }),
    description: z.string().max(1000).optional(),
    clips: z.union([file, z.array(file).min(1).max(MAX_CLIPS)]).openapi({
      type: 'array',
      items: { type: 'string', format: 'binary' },
      description: 'Reference clips (wav, flac, mp3, ogg)',
    }),
  })
  .openapi('CreateVoice');

const UpdateVoice = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    language: z.string().trim().min(2).max(10).optional(),
    description: z.string().max(1000).nullable().optional(),
  })
  .openapi('UpdateVoice');

const VoiceId = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) });
const security = [{ bearer: [] }];

const toJson = (v: Voice, clips?: VoiceClip[]) => ({
  id: v.id,
  name: v.name,
  language: v.language,
  description: v.description,
  checkpoint_id: v.checkpointId,
  ...(clips ? { clips: clips.map((c) => ({ id: c.id, duration_s: c.durationS, sample_rate: c.sampleRate })) } : {}),
  created_at: v.createdAt.toISOString(),
  updated_at: v.updatedAt.toISOString(),
});

const create = createRoute({
  method: 'post',
  path: '/v1/voices',
  tags: ['voices'],
  summary: 'Create a voice from reference clips; its conditioning is computed once and cached',
  security,
  request: { body: { required: true, content: { 'multipart/form-data': { schema: CreateVoice } } } },
  responses: {
    201: { description: 'Created', content: { 'application/json': { schema: VoiceJson } } },
    ...errorResponses(400, 401, 403, 413, 415, 422, 503),
  },
});
const list = createRoute({
  method: 'get',
  path: '/v1/voices',
  tags: ['voices'],
  summary: 'List voices',
  security,
  responses: {
    200: { description: 'Voices', content: { 'application/json': { schema: z.object({ data: z.array(VoiceJson) }) } } },
    ...errorResponses(401, 403),
  },
});
const get = createRoute({
  method: 'get',
  path: '/v1/voices/{id}',
  tags: ['voices'],
  summary: 'A voice with its clips',
  security,
  request: { params: VoiceId },
  responses: {
    200: { description: 'The voice', content: { 'application/json': { schema: VoiceJson } } },
    ...errorResponses(400, 401, 403, 404),
  },
});
const update = createRoute({
  method: 'patch',
  path: '/v1/voices/{id}',
  tags: ['voices'],
  summary: 'Rename or describe a voice (its checkpoint changes only by promotion)',
  security,
  request: { params: VoiceId, body: jsonBody(UpdateVoice) },
  responses: {
    200: { description: 'Updated', content: { 'application/json': { schema: VoiceJson } } },
    ...errorResponses(400, 401, 403, 404, 415),
  },
});
const remove = createRoute({
  method: 'delete',
  path: '/v1/voices/{id}',
  tags: ['voices'],
  summary: 'Delete a voice, its clips and cached conditioning',
  security,
  request: { params: VoiceId },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(400, 401, 403, 404) },
});

export type VoiceRouteDeps = {
  db: Db;
  engine: Engine | undefined;
  dataDir: string;
  modelDir?: string | undefined;
  localSecret?: string | undefined;
};

export function voiceRoutes(deps: VoiceRouteDeps) {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  const admin = requireScope({ db: deps.db, scope: 'admin', localSecret: deps.localSecret });
  const synth = requireScope({ db: deps.db, scope: 'synth', localSecret: deps.localSecret });
  app.on(['POST', 'PATCH', 'DELETE'], ['/v1/voices', '/v1/voices/*'], admin);
  app.on('GET', ['/v1/voices', '/v1/voices/*'], synth);

  const notFound = () => new ApiError('VOICE_NOT_FOUND', 'No voice with that id', { field: 'path.id' });
  return app
    .openapi(create, async (c) => {
      const body = c.req.valid('form');
      const files = Array.isArray(body.clips) ? body.clips : [body.clips];
      const clips: Upload[] = await Promise.all(
        files.map(async (f) => ({ filename: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
      );
      const { voice, clips: rows } = await createVoice(deps, {
        name: body.name,
        language: body.language,
        description: body.description,
        clips,
      });
      return c.json(toJson(voice, rows), 201);
    })
    .openapi(list, async (c) => c.json({ data: (await listVoices(deps.db)).map((v) => toJson(v)) }, 200))
    .openapi(get, async (c) => {
      const voice = await getVoice(deps.db, c.req.valid('param').id);
      if (!voice) throw notFound();
      return c.json(toJson(voice, await listVoiceClips(deps.db, voice.id)), 200);
    })
    .openapi(update, async (c) => {
      const voice = await updateVoice(deps.db, c.req.valid('param').id, c.req.valid('json'));
      if (!voice) throw notFound();
      return c.json(toJson(voice), 200);
    })
    .openapi(remove, async (c) => {
      const voice = await deleteVoice(deps.db, c.req.valid('param').id);
      if (!voice) throw notFound();
      await removeVoiceFiles(deps.dataDir, voice.id);
      return c.body(null, 204);
    });
}
