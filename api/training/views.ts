/** The JSON shapes of training runs, their metrics and checkpoints, with OpenAPI schemas. */
import { z } from '@hono/zod-openapi';
import type { Checkpoint, TrainingMetric, TrainingRun } from '../../db/index.ts';

export const RunCheckpointJson = z
  .object({
    id: z.uuid(),
    name: z.string(),
    epoch: z.number().int().nullable(),
    step: z.number().int().nullable(),
    train_loss: z.number().nullable(),
    eval_loss: z.number().nullable(),
    status: z.enum(['exporting', 'ready', 'failed']),
    created_at: z.iso.datetime(),
  })
  .openapi('RunCheckpoint');

export const MetricJson = z
  .object({
    id: z.number().int(),
    kind: z.enum(['train', 'eval']),
    step: z.number().int(),
    epoch: z.number().int(),
    loss: z.number().nullable(),
    loss_text: z.number().nullable(),
    loss_mel: z.number().nullable(),
    lr: z.number().nullable(),
    samples_per_s: z.number().nullable(),
    gpu_mem_mb: z.number().nullable(),
  })
  .openapi('TrainingMetric');

const point = z.object({ step: z.number().int(), loss: z.number().nullable() }).nullable();

export const RunJson = z
  .object({
    id: z.uuid(),
    name: z.string(),
    dataset_id: z.uuid(),
    voice_id: z.uuid().nullable(),
    base_checkpoint_id: z.uuid().nullable(),
    base_package: z.string(),
    config: z.record(z.string(), z.unknown()),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    progress: z.record(z.string(), z.unknown()).nullable().openapi({
      description: 'step, epoch, loss, loss_text, loss_mel, samples_per_s, gpu_mem_mb, eta_s, lr',
    }),
    listening_test_id: z.uuid().nullable(),
    error_code: z.string().nullable(),
    error: z.string().nullable(),
    checkpoints: z.array(RunCheckpointJson).optional(),
    metrics_summary: z
      .object({ train_points: z.number().int(), eval_points: z.number().int(), last_train: point, best_eval: point })
      .optional(),
    links: z.object({ self: z.string(), events: z.string(), metrics: z.string(), page: z.string() }),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
  })
  .openapi('TrainingRun');

export const checkpointJson = (k: Checkpoint): z.infer<typeof RunCheckpointJson> => ({
  id: k.id,
  name: k.name,
  epoch: k.epoch,
  step: k.step,
  train_loss: k.trainLoss,
  eval_loss: k.evalLoss,
  status: k.status,
  created_at: k.createdAt.toISOString(),
});

export const metricJson = (m: TrainingMetric): z.infer<typeof MetricJson> => ({
  id: m.id,
  kind: m.kind,
  step: m.step,
  epoch: m.epoch,
  loss: m.loss,
  loss_text: m.lossText,
  loss_mel: m.lossMel,
  lr: m.lr,
  samples_per_s: m.samplesPerS,
  gpu_mem_mb: m.gpuMemMb,
});

export function metricsSummary(metrics: TrainingMetric[]) {
  const train = metrics.filter((m) => m.kind === 'train');
  const evals = metrics.filter((m) => m.kind === 'eval' && m.loss !== null);
  const last = train.at(-1);
  const best = evals.reduce<TrainingMetric | undefined>(
    (b, m) => (!b || (m.loss ?? 0) < (b.loss ?? 0) ? m : b),
    undefined,
  );
  return {
    train_points: train.length,
    eval_points: metrics.length - train.length,
    last_train: last ? { step: last.step, loss: last.loss } : null,
    best_eval: best ? { step: best.step, loss: best.loss } : null,
  };
}

export function runJson(
  r: TrainingRun,
  extra: { checkpoints?: Checkpoint[]; metrics?: TrainingMetric[] } = {},
): z.infer<typeof RunJson> {
  const base = `/v1/training-runs/${r.id}`;
  return {
    id: r.id,
    name: r.name,
    dataset_id: r.datasetId,
    voice_id: r.voiceId,
    base_checkpoint_id: r.baseCheckpointId,
    base_package: r.basePackage,
    config: r.config,
    status: r.status,
    progress: r.progress,
    listening_test_id: r.listeningTestId,
    error_code: r.errorCode,
    error: r.error,
    ...(extra.checkpoints ? { checkpoints: extra.checkpoints.map(checkpointJson) } : {}),
    ...(extra.metrics ? { metrics_summary: metricsSummary(extra.metrics) } : {}),
    links: { self: base, events: `${base}/events`, metrics: `${base}/metrics`, page: `/training-runs/${r.id}` },
    created_at: r.createdAt.toISOString(),
    started_at: r.startedAt?.toISOString() ?? null,
    finished_at: r.finishedAt?.toISOString() ?? null,
  };
}

/** A run's checkpoints in training order (the query lists newest first). */
export const byStep = (ks: Checkpoint[]) =>
  [...ks].sort((a, b) => (a.step ?? 0) - (b.step ?? 0) || a.createdAt.getTime() - b.createdAt.getTime());
