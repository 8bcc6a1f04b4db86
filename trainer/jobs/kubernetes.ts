/**
 * Training runs as Kubernetes Jobs. The queue stays the one source of truth: the launcher only
 * starts a pod (a GPU worker, `node api/worker.ts` with JOB_KINDS=training.run) for each run a
 * worker could claim now; that pod claims a run from the queue like any worker does, so leases,
 * heartbeats, resumption after a crash and cancellation work unchanged, and a pod that finds
 * nothing to claim (the run was cancelled, or another pod took it) exits at once.
 *
 * Processes that run this launcher must not claim training.run themselves (config refuses
 * JOB_KINDS with training.run when TRAINING_LAUNCHER=kubernetes): they would race the pods.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type Db, listUnlaunchedJobs, recordJobLaunch, TRAINING_RUN_JOB } from '../../db/index.ts';
import type { Config } from '../../infra/index.ts';

export type TrainerJobOptions = {
  image: string;
  /** nvidia.com/gpu per Job; the pod's trainer runs one process per GPU. */
  gpus: number;
  /** Secret holding DATABASE_URL: the one the API's Deployment reads. */
  databaseSecret?: { name: string; key: string };
  /** The volume shared with the API: datasets in, checkpoint packages out. */
  volumeClaim?: string;
  /** How long a finished Job (and its pod's logs) stays before Kubernetes deletes it. */
  ttlSecondsAfterFinished?: number;
  logLevel?: string;
};

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } };

/** The batch/v1 Job the launcher creates; only the fields it sets. */
export type TrainerJobManifest = {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    backoffLimit: number;
    ttlSecondsAfterFinished: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: Record<string, unknown> & {
        containers: {
          name: string;
          image: string;
          args: string[];
          env: EnvVar[];
          resources: { limits: Record<string, string | number>; requests: Record<string, string | number> };
          volumeMounts: { name: string; mountPath: string }[];
        }[];
      };
    };
  };
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * The Job for one launch of queue job `id`. `attempt` is the launch number: the job's next
 * attempt, and it keeps growing across a resume, so a name is never used twice.
 */
export function trainerJobManifest(job: { id: number; attempt: number }, opts: TrainerJobOptions): TrainerJobManifest {
  if (!Number.isSafeInteger(job.id) || job.id < 1 || !Number.isSafeInteger(job.attempt) || job.attempt < 1) {
    throw new Error(`a trainer Job needs a positive job id and attempt (got ${job.id}, ${job.attempt})`);
  }
  const name = `xtts-train-${job.id}-${job.attempt}`;
  if (!DNS_LABEL.test(name)) throw new Error(`${name} is not a DNS-1123 label`);
  const secret = opts.databaseSecret ?? { name: 'xtts-studio-db', key: 'url' };
  const labels = {
    'app.kubernetes.io/name': 'xtts-studio',
    'app.kubernetes.io/component': 'trainer',
    'xtts-studio/job-id': String(job.id),
    'xtts-studio/attempt': String(job.attempt),
  };
  const gpus = opts.gpus;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      // The queue retries (and resumes from the last checkpoint); a Kubernetes retry would start
      // a second pod for an attempt the queue already counts.
      backoffLimit: 0,
      ttlSecondsAfterFinished: opts.ttlSecondsAfterFinished ?? 86_400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          // The trainer talks to the database, not to the Kubernetes API.
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
          // Time for the worker to stop the trainer and put the run back in the queue on eviction.
          terminationGracePeriodSeconds: 60,
          tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            {
              name: 'trainer',
              image: opts.image,
              // args, not command: the image's entry point (tini) stays PID 1 and reaps the trainer's children.
              args: ['node', 'api/worker.ts'],
              env: [
                { name: 'DATABASE_URL', valueFrom: { secretKeyRef: secret } },
                { name: 'DATA_DIR', value: '/data' },
                { name: 'MODEL_DIR', value: '/data/models' },
                { name: 'JOB_KINDS', value: TRAINING_RUN_JOB },
                { name: 'JOB_WORKERS', value: '1' },
                { name: 'WORKER_EXIT_WHEN_IDLE', value: 'true' },
                // With more than one GPU the same worker starts its trainer under torchrun: the
                // world size comes from this variable, and torchrun hands it to the trainer.
                { name: 'TRAINER_GPUS', value: String(gpus) },
                { name: 'LOG_LEVEL', value: opts.logLevel ?? 'info' },
              ],
              resources: {
                limits: { 'nvidia.com/gpu': gpus, memory: `${32 * gpus}Gi` },
                requests: { cpu: String(4 * gpus), memory: `${16 * gpus}Gi` },
              },
              volumeMounts: [
                { name: 'data', mountPath: '/data' },
                { name: 'dshm', mountPath: '/dev/shm' },
              ],
            },
          ],
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: opts.volumeClaim ?? 'xtts-studio-data' } },
            // DataLoader workers and NCCL pass tensors through /dev/shm, 64 MiB in a container by default.
            { name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: `${8 * gpus}Gi` } },
          ],
        },
      },
    },
  };
}

export type KubernetesApi = {
  apiUrl: string;
  namespace: string;
  token: string;
  /** The cluster's CA (PEM); without it the system's CAs are trusted. */
  ca?: string | Buffer;
  timeoutMs?: number;
};

export class KubernetesApiError extends Error {
  override name = 'KubernetesApiError';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/**
 * Creates the Job. A Job of that name already existing counts as success (`created: false`):
 * names are fixed per launch, so it is this very launch, made by an earlier pass or replica.
 */
export function createKubernetesJob(manifest: TrainerJobManifest, api: KubernetesApi): Promise<{ created: boolean }> {
  const url = new URL(`${api.apiUrl.replace(/\/$/, '')}/apis/batch/v1/namespaces/${api.namespace}/jobs`);
  const body = JSON.stringify(manifest);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${api.token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        ...(api.ca ? { ca: api.ca } : {}),
        timeout: api.timeoutMs ?? 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let reply: { reason?: string; message?: string } = {};
          try {
            reply = JSON.parse(text);
          } catch {}
          if (status >= 200 && status < 300) return resolve({ created: true });
          const reason = reply.reason ?? res.statusMessage ?? 'Unknown';
          if (status === 409 && reason === 'AlreadyExists') return resolve({ created: false });
          const detail = reply.message ?? text.slice(0, 300);
          reject(
            new KubernetesApiError(
              status,
              reason,
              `the Kubernetes API refused Job ${manifest.metadata.name} (${status} ${reason}): ${detail}`,
            ),
          );
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`the Kubernetes API at ${url.origin} did not answer in time`)));
    req.on('error', reject);
    req.end(body);
  });
}

export type LauncherOptions = {
  db: Db;
  logger: Logger;
  apiUrl: string;
  namespace: string;
  /** Holds `token` (re-read every pass: kubelet rotates it) and `ca.crt`. */
  serviceAccountDir: string;
  job: TrainerJobOptions;
  pollMs?: number;
};

/** The launcher's settings from the configuration (TRAINING_LAUNCHER=kubernetes, K8S_*). */
export function kubernetesLauncherOptions(config: Config): Omit<LauncherOptions, 'db' | 'logger'> {
  const k = config.kubernetes;
  if (!k.trainerImage) throw new Error('K8S_TRAINER_IMAGE is not set');
  return {
    apiUrl: k.apiUrl,
    namespace: k.namespace,
    serviceAccountDir: k.serviceAccountDir,
    job: { image: k.trainerImage, gpus: k.trainerGpus, logLevel: config.logLevel },
  };
}

/** One pass: a Job for every claimable run without one. Returns the names of the Jobs made (or found). */
export async function launchTrainingJobs(opts: Omit<LauncherOptions, 'pollMs'>): Promise<string[]> {
  const pending = await listUnlaunchedJobs(opts.db, TRAINING_RUN_JOB);
  if (pending.length === 0) return [];
  const tokenFile = join(opts.serviceAccountDir, 'token');
  const caFile = join(opts.serviceAccountDir, 'ca.crt');
  const api: KubernetesApi = {
    apiUrl: opts.apiUrl,
    namespace: opts.namespace,
    token: readFileSync(tokenFile, 'utf8').trim(),
    ...(existsSync(caFile) ? { ca: readFileSync(caFile) } : {}),
  };
  const launched: string[] = [];
  for (const job of pending) {
    const count = job.launches + 1;
    const manifest = trainerJobManifest({ id: job.id, attempt: count }, opts.job);
    const name = manifest.metadata.name;
    try {
      // Created first, recorded second: a crash in between finds the Job by its name next time.
      const { created } = await createKubernetesJob(manifest, api);
      await recordJobLaunch(opts.db, job, { name, count });
      opts.logger.info({ job: job.id, k8sJob: name, created }, 'trainer Job launched');
      launched.push(name);
    } catch (err) {
      opts.logger.error({ err, job: job.id, k8sJob: name }, 'launching a trainer Job failed; trying again next pass');
    }
  }
  return launched;
}

export type Launcher = { stop(): Promise<void> };

/** Launches trainer Jobs every `pollMs` (default 5 s) until stopped. */
export function startKubernetesLauncher(opts: LauncherOptions): Launcher {
  const logger = opts.logger.child({ launcher: 'kubernetes' });
  const pollMs = opts.pollMs ?? 5000;
  let stopping = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopping) {
      try {
        await launchTrainingJobs({ ...opts, logger });
      } catch (err) {
        logger.warn({ err }, 'looking for runs to launch failed; retrying');
      }
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopping = true;
      wake?.();
      await loop;
    },
  };
}
