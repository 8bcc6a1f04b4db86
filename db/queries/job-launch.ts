/**
 * Launch records for jobs whose worker is started on demand (a Kubernetes Job per training run)
 * instead of waiting in a pool. The record lives in the job's payload (`k8s_job`) and names the
 * queue state it was made for, so a launcher that restarts, or runs in several API replicas,
 * never launches twice for the same state, and launches again when the state moves on.
 *
 * A state is the pair (attempts, run_at): a claim raises attempts, a retry and a resume set
 * run_at (a resume also resets attempts), so each chance a job gets to run has its own key.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client.ts';

export type UnlaunchedJob = {
  id: number;
  attempts: number;
  /** The queue state the launch is for; hand it back to recordJobLaunch. */
  state: string;
  /** Launches recorded for this job so far, over every attempt and resume. */
  launches: number;
};

export type JobLaunch = { name: string; count: number };

// extract(epoch …) is numeric (exact to the microsecond) and does not depend on the session's time zone.
const stateKey = sql`(attempts::text || '@' || extract(epoch from run_at)::text)`;

/**
 * Jobs of `kind` that a worker could claim now (as claimJob picks them: queued and due, or
 * running with an expired lease) and that have no launch recorded for their current state.
 * Cancelled jobs and jobs whose cancellation is pending are left out, as claimJob leaves them.
 */
export async function listUnlaunchedJobs(db: Db, kind: string, limit = 20): Promise<UnlaunchedJob[]> {
  const result = await db.execute(sql`
    select id, attempts, ${stateKey} as state,
      coalesce((payload->'k8s_job'->>'count')::int, 0) as launches
    from jobs
    where kind = ${kind} and not cancel_requested
      and ((status = 'queued' and run_at <= now()) or (status = 'running' and lease_until < now()))
      and ${stateKey} is distinct from payload->'k8s_job'->>'state'
    order by run_at, id
    limit ${limit}`);
  return rowsOf(result).map((r) => ({
    id: Number(r.id),
    attempts: Number(r.attempts),
    state: String(r.state),
    launches: Number(r.launches),
  }));
}

/**
 * Records that `launch` was made for the job's `state`. When the job moved on meanwhile (a
 * pod claimed it already), the record still holds: the next state differs from it, so a
 * launch follows only when the job is claimable again. A record older than the stored one
 * (a slow replica's) is ignored, so the launch count never goes back and a name is never reused.
 */
export async function recordJobLaunch(db: Db, job: { id: number; state: string }, launch: JobLaunch): Promise<boolean> {
  const result = await db.execute(sql`
    update jobs set payload = jsonb_set(payload, '{k8s_job}',
      jsonb_build_object('name', ${launch.name}::text, 'count', ${launch.count}::int, 'state', ${job.state}::text))
    where id = ${job.id} and coalesce((payload->'k8s_job'->>'count')::int, 0) <= ${launch.count}
    returning id`);
  return rowsOf(result).length === 1;
}

// drizzle's execute gives postgres.js's row list itself, and PGlite's result object with `.rows`.
function rowsOf(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  return ((result as { rows?: unknown[] }).rows ?? []) as Array<Record<string, unknown>>;
}
