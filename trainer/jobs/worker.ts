/**
 * A job worker: claims jobs of the kinds it has handlers for, keeps their lease alive while a
 * handler runs, and records how each ended. Any number of workers (threads of `npm start` on
 * the embedded database, `npm run worker` processes on a Postgres server) share one queue.
 *
 * A handler writes its own results and completes the job in one transaction (so a worker that
 * lost its lease writes nothing); the worker handles what is common: the lease, cancellation,
 * retries and the final failure.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import {
  cancelledJob,
  claimJob,
  type Db,
  failJob,
  getJob,
  heartbeatJob,
  isDatabaseUnavailable,
  type Job,
  type Lease,
} from '../../db/index.ts';

/** A failure that another attempt cannot fix (bad input, a dataset with no usable clips). */
export class JobError extends Error {
  override name = 'JobError';
  readonly code: string;
  readonly retry: boolean;
  constructor(code: string, message: string, opts: { retry?: boolean } = {}) {
    super(message);
    this.code = code;
    this.retry = opts.retry ?? false;
  }
}

export type JobContext = {
  db: Db;
  job: Job;
  lease: Lease;
  logger: Logger;
  /** Aborted when an owner cancels the job (reason 'cancel') or the lease is lost ('lost'). */
  signal: AbortSignal;
  /** Stores progress on the job row; also renews the lease. */
  report(progress: Record<string, unknown>): Promise<void>;
};

export type JobHandler = {
  /** Runs the job. Completes it itself (completeJob in its results' transaction), or throws. */
  run(ctx: JobContext): Promise<void>;
  /** The job ended without success for good: mark what it was building as failed. */
  failed(db: Db, job: Job, code: string, message: string): Promise<void>;
};

export type WorkerOptions = {
  db: Db;
  handlers: Record<string, JobHandler>;
  logger: Logger;
  workerId?: string;
  leaseMs?: number;
  pollMs?: number;
  /** End the loop when a claim finds nothing to do (a worker started for one Kubernetes Job). */
  stopWhenIdle?: boolean;
};

export type Worker = {
  readonly id: string;
  /**
   * Stops claiming. A running job is stopped too and goes back to the queue (`abortRunning`,
   * the default); without it, the job's lease runs out and another worker resumes it.
   */
  stop(opts?: { abortRunning?: boolean }): Promise<void>;
  /** Resolves when no job is running. */
  idle(): Promise<void>;
  /** Resolves when the loop has ended (after stop(), or when idle with `stopWhenIdle`). */
  readonly done: Promise<void>;
};

export function startWorker(opts: WorkerOptions): Worker {
  const id = opts.workerId ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const leaseMs = opts.leaseMs ?? 30_000;
  const pollMs = opts.pollMs ?? 1000;
  const kinds = Object.keys(opts.handlers);
  const logger = opts.logger.child({ worker: id });
  let stopping = false;
  let current: { controller: AbortController; done: Promise<void> } | undefined;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  /**
   * The worker's own bookkeeping writes (how a job ended) while the database may be away: retried
   * with backoff for as long as the lease lasts. Past it another worker may hold the job, and the
   * fencing token makes a late write a no-op anyway, so giving up then loses nothing: the job is
   * claimed again once its lease has run out.
   */
  async function persist<T>(what: string, log: Logger, write: () => Promise<T>): Promise<T | undefined> {
    const deadline = Date.now() + leaseMs;
    for (let wait = 100; ; wait = Math.min(wait * 2, 5000)) {
      try {
        return await write();
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() + wait > deadline) {
          log.error({ err }, `${what} could not be recorded; the job is resumed when its lease runs out`);
          return undefined;
        }
        log.warn({ err }, `${what}: the database is unavailable; retrying`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async function runOne(job: Job, lease: Lease, controller: AbortController): Promise<void> {
    const handler = opts.handlers[job.kind];
    if (!handler) return;
    const log = logger.child({ job: job.id, kind: job.kind, attempt: lease.attempt });
    const markFailed = (code: string, message: string) =>
      persist('marking the job failed', log, () => handler.failed(opts.db, job, code, message));
    let lastProgress: Record<string, unknown> | undefined;
    const beat = async () => {
      const state = await heartbeatJob(opts.db, lease, leaseMs, lastProgress).catch((err) => {
        log.warn({ err }, 'heartbeat failed');
        return 'ok' as const; // a passing database error: the lease still has time
      });
      if (state !== 'ok' && !controller.signal.aborted) controller.abort(state);
    };
    const timer = setInterval(beat, Math.max(50, Math.floor(leaseMs / 3)));
    const ctx: JobContext = {
      db: opts.db,
      job,
      lease,
      logger: log,
      signal: controller.signal,
      report: async (progress) => {
        lastProgress = progress;
      },
    };
    log.info('job started');
    try {
      await handler.run(ctx);
      if (controller.signal.reason === 'cancel') {
        // Stopped by its owner; a handler that recorded the cancellation itself already ended the job.
        if (await persist('the cancellation', log, () => cancelledJob(opts.db, lease)))
          await markFailed('CANCELLED', 'Cancelled by its owner');
        log.info('job cancelled');
      } else if ((await persist('the job state', log, () => getJob(opts.db, job.id)))?.lockedBy === lease.token) {
        // A handler must end its job; one that returned without doing so is a bug, not a success.
        const ended = await persist('the failure', log, () =>
          failJob(opts.db, lease, 'JOB_FAILED: the handler returned without completing', { retry: false }),
        );
        if (ended === 'failed') await markFailed('JOB_FAILED', 'The job ended without a result');
      } else {
        log.info('job finished');
      }
    } catch (err) {
      if (controller.signal.reason === 'lost') {
        log.warn('lease lost: another worker has the job; nothing written');
      } else if (controller.signal.reason === 'cancel') {
        if (await persist('the cancellation', log, () => cancelledJob(opts.db, lease)))
          await markFailed('CANCELLED', 'Cancelled by its owner');
        log.info('job cancelled');
      } else if (isDatabaseUnavailable(err)) {
        // The database went away under the job: back to the queue without using an attempt; the
        // handler resumes from what it had stored.
        const ended = await persist('the requeue', log, () =>
          failJob(opts.db, lease, `DATABASE_UNAVAILABLE: ${(err as Error).message}`, {
            retry: true,
            retryInMs: 1000,
            refundAttempt: true,
          }),
        );
        log.warn({ err, ended }, 'the database went away during the job; requeued');
      } else {
        const e = err instanceof JobError ? err : undefined;
        const code = e?.code ?? 'JOB_FAILED';
        const message = (err as Error).message ?? String(err);
        // Stopped by a shutdown: back to the queue at once, to be resumed by the next worker.
        const shutdown = controller.signal.reason === 'shutdown';
        const ended = await persist('the failure', log, () =>
          failJob(opts.db, lease, `${code}: ${message}`, {
            retry: shutdown || (e ? e.retry : true),
            retryInMs: shutdown ? 0 : 5000,
          }),
        );
        log.warn({ err, ended }, 'job failed');
        if (ended === 'failed') await markFailed(code, message);
      }
    } finally {
      clearInterval(timer);
    }
  }

  const loop = (async () => {
    // Consecutive failed claims (the database is away): the wait grows to 10 s, then stays.
    let failures = 0;
    while (!stopping) {
      let claimed: Awaited<ReturnType<typeof claimJob>> | undefined;
      try {
        claimed = await claimJob(opts.db, { workerId: id, kinds, leaseMs });
        failures = 0;
        for (const gone of claimed.expired) {
          await opts.handlers[gone.kind]?.failed(
            opts.db,
            gone,
            'WORKER_LOST',
            'The job stopped on every attempt (its worker was killed or stopped answering)',
          );
        }
      } catch (err) {
        if (stopping) break;
        failures++;
        logger.warn({ err, failures }, 'claiming a job failed; retrying');
      }
      if (claimed && !claimed.job && opts.stopWhenIdle) break;
      if (claimed?.job) {
        const controller = new AbortController();
        // runOne records every ending itself; anything it still throws is logged, never fatal.
        const done = runOne(claimed.job, claimed.lease, controller).catch((err) =>
          logger.error({ err, job: claimed.job?.id }, 'job bookkeeping failed'),
        );
        current = { controller, done };
        await done;
        current = undefined;
        continue;
      }
      if (!stopping) await sleep(failures ? Math.min(10_000, pollMs * 2 ** Math.min(failures, 10)) : pollMs);
    }
  })();

  return {
    id,
    async stop(stopOpts = {}) {
      stopping = true;
      wake?.();
      if (current && (stopOpts.abortRunning ?? true)) current.controller.abort('shutdown');
      await loop;
    },
    async idle() {
      await current?.done;
    },
    done: loop,
  };
}
