/** The JSON shapes of datasets and clips (snake_case, like the rest of the API), and their OpenAPI schemas. */
import { z } from '@hono/zod-openapi';
import type { Dataset, DatasetClip, DatasetClipSummary, DatasetRecording } from '../../db/index.ts';
import { clipIncluded } from '../../db/index.ts';
import { publicOptions } from './options.ts';

export const ProgressJson = z
  .object({ stage: z.string().optional(), fraction: z.number().optional(), message: z.string().optional() })
  .passthrough();

export const DatasetJson = z
  .object({
    id: z.uuid(),
    name: z.string(),
    language: z.string(),
    status: z.enum(['uploading', 'queued', 'processing', 'ready', 'failed']),
    source: z.enum(['recordings', 'ljspeech']),
    chunker: z.enum(['sentence', 'statistical']).nullable(),
    options: z.record(z.string(), z.unknown()).nullable(),
    progress: ProgressJson.nullable(),
    report: z.record(z.string(), z.unknown()).nullable().openapi({ description: "The build's report.json" }),
    summary: z
      .object({
        clips: z.number().int(),
        included: z.number().int(),
        overridden: z.number().int(),
        edited: z.number().int(),
        hours_included: z.number(),
        hours_dropped: z.number(),
        train: z.number().int(),
        eval: z.number().int(),
        reasons: z.record(z.string(), z.number().int()),
      })
      .optional()
      .openapi({ description: 'The clips as they stand now, with the owner’s edits and exclusions' }),
    recordings: z
      .array(
        z.object({ id: z.uuid(), name: z.string(), bytes: z.number(), sha256: z.string(), transcript: z.boolean() }),
      )
      .optional(),
    error_code: z.string().nullable(),
    error: z.string().nullable(),
    links: z.object({
      self: z.string(),
      events: z.string(),
      clips: z.string(),
      ljspeech: z.string(),
      page: z.string(),
    }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Dataset');

export const ClipJson = z
  .object({
    id: z.uuid(),
    clip_key: z.string(),
    recording: z.string().nullable(),
    start_s: z.number().nullable(),
    end_s: z.number().nullable(),
    text: z.string(),
    normalized_text: z.string().nullable(),
    original_text: z.string().nullable().openapi({ description: "The build's text, when the owner edited it" }),
    duration_s: z.number(),
    sample_rate: z.number().int(),
    cps: z.number().nullable(),
    loudness_dbfs: z.number().nullable(),
    peak_dbfs: z.number().nullable(),
    wer: z.number().nullable(),
    status: z.enum(['kept', 'flagged', 'dropped']),
    reasons: z.array(z.string()),
    excluded: z.boolean().nullable().openapi({ description: 'The owner’s override; null follows status' }),
    included: z.boolean(),
    split: z.enum(['train', 'eval']).nullable(),
    audio_url: z.string(),
  })
  .openapi('DatasetClip');

const base = (id: string) => `/v1/datasets/${id}`;

export function datasetJson(
  d: Dataset,
  extra: { summary?: DatasetClipSummary; recordings?: DatasetRecording[] } = {},
): z.infer<typeof DatasetJson> {
  const s = extra.summary;
  return {
    id: d.id,
    name: d.name,
    language: d.language,
    status: d.status,
    source: d.source,
    chunker: d.chunker,
    options: publicOptions(d.options),
    progress: d.progress ?? null,
    report: d.report,
    ...(s
      ? {
          summary: {
            clips: s.clips,
            included: s.included,
            overridden: s.overridden,
            edited: s.edited,
            hours_included: s.includedSeconds / 3600,
            hours_dropped: s.droppedSeconds / 3600,
            train: s.train,
            eval: s.eval,
            reasons: s.reasons,
          },
        }
      : {}),
    ...(extra.recordings
      ? {
          recordings: extra.recordings.map((r) => ({
            id: r.id,
            name: r.name,
            bytes: r.bytes,
            sha256: r.sha256,
            transcript: r.transcript !== null,
          })),
        }
      : {}),
    error_code: d.errorCode,
    error: d.error,
    links: {
      self: base(d.id),
      events: `${base(d.id)}/events`,
      clips: `${base(d.id)}/clips`,
      ljspeech: `${base(d.id)}/ljspeech.tar`,
      page: `/datasets/${d.id}`,
    },
    created_at: d.createdAt.toISOString(),
    updated_at: d.updatedAt.toISOString(),
  };
}

export const clipAudioPath = (datasetId: string, clipId: string) => `${base(datasetId)}/clips/${clipId}/audio`;

export function clipJson(c: DatasetClip): z.infer<typeof ClipJson> {
  return {
    id: c.id,
    clip_key: c.clipKey,
    recording: c.recording,
    start_s: c.startS,
    end_s: c.endS,
    text: c.text,
    normalized_text: c.normalizedText,
    original_text: c.originalText,
    duration_s: c.durationS,
    sample_rate: c.sampleRate,
    cps: c.cps,
    loudness_dbfs: c.loudnessDbfs,
    peak_dbfs: c.peakDbfs,
    wer: c.wer,
    status: c.status,
    reasons: c.reasons,
    excluded: c.excluded,
    included: clipIncluded(c),
    split: c.split,
    audio_url: clipAudioPath(c.datasetId, c.id),
  };
}
