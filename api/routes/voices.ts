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
import type { AudioSandbox, Engine } from '../../inference/index.ts';
import { limits } from '../../infra/index.ts';
import { createVoice, removeVoiceFiles, voicesDir } from '../../voices/index.ts';
import { ApiError } from '../errors.ts';
import { exampleIds, exampleLaterTime, exampleTime } from '../examples.ts';
import { requireScope } from '../middleware/auth.ts';
import { receiveUpload } from '../synthesis/upload.ts';
import { errorResponses, jsonBody, jsonResponse, validationHook } from '../validation.ts';

const MAX_CLIPS = limits.upload.maxVoiceClips;

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

const VoiceFields = z.object({
  name: z.string().trim().min(1).max(100),
  language: z.string().trim().min(2).max(10).openapi({ example: 'en' }),
  description: z.string().max(1000).optional(),
});
const CreateVoice = VoiceFields.extend({
  clips: z
    .array(z.string())
    .min(1)
    .max(MAX_CLIPS)
    .openapi({
      type: 'array',
      items: { type: 'string', format: 'binary' },
      description:
        `Reference clips (wav, flac, mp3, ogg), at most ${MAX_CLIPS}, streamed to disk. Each must hold speech ` +
        `(at least ${limits.audio.minSpeechSeconds} s); headers are checked (${limits.audio.minSampleRate}–${limits.audio.maxSampleRate} Hz, ` +
        `1–${limits.audio.maxChannels} channels); NaN or infinite samples are refused; a clip longer than ` +
        `${limits.audio.referenceSeconds} s is cut to its ${limits.audio.referenceSeconds} s with the most speech ` +
        `(only its first ${limits.audio.maxAnalysisSeconds} s are examined).`,
    }),
}).openapi('CreateVoice');

const UpdateVoice = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    language: z.string().trim().min(2).max(10).optional(),
    description: z.string().max(1000).nullable().optional(),
  })
  .openapi('UpdateVoice');

const VoiceId = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, example: exampleIds.voice }) });

const exampleVoice = {
  id: exampleIds.voice,
  name: 'ada',
  language: 'en',
  description: 'Reading voice, quiet room',
  checkpoint_id: exampleIds.baseCheckpoint,
  created_at: exampleTime,
  updated_at: exampleTime,
};
const exampleClips = [{ id: exampleIds.clip, duration_s: 6.2, sample_rate: 22050 }];
const security = [{ bearer: [] }];

const Reference = z
  .object({
    clip: z.number().int(),
    examined_s: z.number(),
    speech_s: z.number(),
    kept: z.object({ start_s: z.number(), end_s: z.number() }),
    trimmed: z.boolean(),
    peak_dbfs: z.number(),
    snr_db: z.number(),
    clipped_fraction: z.number(),
  })
  .openapi('VoiceReferenceReport');
const Warning = z
  .object({
    field: z.string(),
    code: z.enum(['CLIPPING', 'NOISY', 'LOW_LEVEL', 'TRIMMED', 'READ_IN_PART']),
    message: z.string(),
  })
  .openapi('AudioWarning');
const CreatedVoiceJson = VoiceJson.extend({
  references: z.array(Reference).openapi({ description: 'What was found in each clip, and the stretch kept' }),
  warnings: z
    .array(Warning)
    .openapi({ description: 'Why the voice may sound worse than it could: clipping, noise, trimming' }),
}).openapi('CreatedVoice');

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
  request: {
    body: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: CreateVoice,
          // File fields are shown by file name.
          example: { name: 'ada', language: 'en', description: 'Reading voice, quiet room', clips: ['ada-1.wav'] },
        },
      },
    },
  },
  responses: {
    201: jsonResponse(CreatedVoiceJson, 'Created', {
      ...exampleVoice,
      clips: exampleClips,
      references: [
        {
          clip: 0,
          examined_s: 6.2,
          speech_s: 5.1,
          kept: { start_s: 0, end_s: 6.2 },
          trimmed: false,
          peak_dbfs: -3.5,
          snr_db: 31.4,
          clipped_fraction: 0,
        },
      ],
      warnings: [],
    }),
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
    200: jsonResponse(z.object({ data: z.array(VoiceJson) }), 'Voices', { data: [exampleVoice] }),
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
    200: jsonResponse(VoiceJson, 'The voice', { ...exampleVoice, clips: exampleClips }),
    ...errorResponses(400, 401, 403, 404),
  },
});
const update = createRoute({
  method: 'patch',
  path: '/v1/voices/{id}',
  tags: ['voices'],
  summary: 'Rename or describe a voice (its checkpoint changes only by promotion)',
  security,
  request: { params: VoiceId, body: jsonBody(UpdateVoice, { description: 'Reading voice, close microphone' }) },
  responses: {
    200: jsonResponse(VoiceJson, 'Updated', {
      ...exampleVoice,
      description: 'Reading voice, close microphone',
      updated_at: exampleLaterTime,
    }),
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
  audio: AudioSandbox;
  maxUploadBytes: number;
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
  // Clips are streamed to disk, not parsed into memory by a validator: the route is documented
  // from its schema and handled here.
  app.openAPIRegistry.registerPath(create);
  app.post(create.path, async (c) => {
    const upload = await receiveUpload(c.req.raw, {
      root: voicesDir(deps.dataDir),
      maxBytes: deps.maxUploadBytes,
      fileFields: { clips: MAX_CLIPS },
      textFields: ['name', 'language', 'description'],
    });
    try {
      const parsed = VoiceFields.safeParse(upload.fields);
      if (!parsed.success) validationHook({ success: false, error: parsed.error, target: 'form' } as never, c as never);
      const body = parsed.data as z.infer<typeof VoiceFields>;
      const clips = upload.files.map((f) => ({ filename: f.filename, path: f.path }));
      if (clips.length === 0) {
        throw new ApiError('VALIDATION_FAILED', 'body.clips: at least one audio file', { field: 'body.clips' });
      }
      const created = await createVoice(
        { ...deps },
        { name: body.name, language: body.language, description: body.description, clips },
        c.req.raw.signal,
      );
      return c.json(
        { ...toJson(created.voice, created.clips), references: created.references, warnings: created.warnings },
        201,
      );
    } finally {
      await upload.discard();
    }
  });
  return app
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
