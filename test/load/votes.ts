/**
 * Load run of vote submission: many raters at once, each fetching its next trial and voting,
 * through the real HTTP stack and database, retrying as the crowd page does (the same answer
 * again after a 503 or a dropped connection). Ends by checking that the votes stored equal the
 * votes the server acknowledged, each exactly once, and prints the figures.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:votes
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:votes -- --restart-db
 *
 * `--restart-db` restarts the PostgreSQL server of DATABASE_URL (the Debian cluster listening on
 * its port, with pg_ctlcluster; run as root or postgres) once a third of the votes are in: it is
 * stopped, left down for `--down-s` seconds (default 2: a restart alone can be over in a tenth of
 * a second, shorter than one readiness probe), and started again,
 * while a job holds a lease on the queue; it also reports how long /readyz said "not ready",
 * and that the job finished. Without DATABASE_URL it runs on embedded PGlite (one connection;
 * much slower, and there is no server to restart). Stimuli are short generated tones: the
 * audio plays no part in voting, and no model is run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { completeJob, enqueueJob, getJob, isDatabaseUnavailable } from '../../db/index.ts';
import { loadConfig } from '../../infra/index.ts';
import { type JobHandler, startWorker } from '../../trainer/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { compareStored, voteLoadApp, voteUntilDone, watchReadiness } from '../helpers/vote-load.ts';

const RATERS = 40;
const VOTES_PER_RATER = 80;
const SENTENCES = 60;

const run = promisify(execFile);
const restartDb = process.argv.includes('--restart-db');
const downArg = process.argv.indexOf('--down-s');
const DOWN_S = downArg > 0 ? Number(process.argv[downArg + 1]) : 2;
if (!(DOWN_S >= 0)) throw new Error('--down-s: a number of seconds, 0 or more');
const serverUrl = loadConfig().databaseUrl;
if (restartDb && !serverUrl) {
  console.error('--restart-db needs DATABASE_URL: a PostgreSQL server on this machine to restart');
  process.exit(2);
}

/** The Debian cluster (version, name) listening on the port of DATABASE_URL. */
async function clusterOf(url: string): Promise<[string, string]> {
  const port = new URL(url).port || '5432';
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  const row = stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[2] === port);
  if (!row?.[0] || !row[1]) throw new Error(`no PostgreSQL cluster on port ${port} (pg_lsclusters)`);
  return [row[0], row[1]];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function retried<T>(query: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await query();
    } catch (err) {
      if (attempt >= 50 || !isDatabaseUnavailable(err)) throw err;
      await sleep(200);
    }
  }
}

const cluster = restartDb ? await clusterOf(serverUrl as string) : undefined;
const db = await openTestDb();
const load = await voteLoadApp(db, { raters: RATERS, votesPerRater: VOTES_PER_RATER, sentences: SENTENCES });

// A job that runs through the whole load (and the restart), renewing its lease, then completes.
let holding = true;
const handler: JobHandler = {
  async run(ctx) {
    while (holding) {
      await ctx.report({ at: Date.now() });
      await sleep(100);
    }
    await ctx.db.transaction(async (tx) => {
      if (!(await completeJob(tx as never, ctx.lease))) tx.rollback();
    });
  },
  async failed() {},
};
const job = await enqueueJob(db.db, { kind: 'bench.hold', payload: {} });
const worker = startWorker({
  db: db.db,
  handlers: { 'bench.hold': handler },
  logger: pino({ level: 'silent' }),
  pollMs: 50,
  leaseMs: 3000,
});

const total = RATERS * VOTES_PER_RATER;
let restart: Promise<{ seconds: number; output: string }> | undefined;
const ready = watchReadiness(load.base, 50);
const result = await voteUntilDone(load.base, load.tokens, {
  maxWaitMs: 600_000,
  onAck: (n) => {
    if (cluster && !restart && n >= total / 3) {
      const started = performance.now();
      restart = (async () => {
        const stop = await run('pg_ctlcluster', [cluster[0], cluster[1], 'stop']);
        await sleep(DOWN_S * 1000);
        const start = await run('pg_ctlcluster', [cluster[0], cluster[1], 'start']);
        return {
          seconds: (performance.now() - started) / 1000,
          output: [stop.stdout, stop.stderr, start.stdout, start.stderr].join('').trim(),
        };
      })();
    }
  },
});
const restarted = await restart;
const readiness = await ready.stop();
holding = false;
let jobStatus: string | undefined;
for (let i = 0; i < 200; i++) {
  jobStatus = (await retried(() => getJob(db.db, job.id)))?.status;
  if (jobStatus === 'done') break;
  await sleep(100);
}
await worker.stop();
const stored = await retried(() => compareStored(db, load.testId, result.acks));
const finalJob = await retried(() => getJob(db.db, job.id));
console.log(
  JSON.stringify(
    {
      database: db.url ? 'postgres' : 'pglite',
      restart_db: restarted
        ? { cluster: cluster?.join('/'), held_down_s: DOWN_S, seconds: Number(restarted.seconds.toFixed(2)) }
        : false,
      raters: RATERS,
      votes_expected: total,
      acknowledged_votes: stored.acknowledged,
      stored_votes: stored.stored,
      acknowledged_not_stored: stored.missing,
      stored_not_acknowledged: stored.unacknowledged,
      duplicates: stored.duplicates,
      conflicting_acknowledgements: result.conflictingAcks,
      refused: result.refused.length,
      retried_503: result.retried503,
      retried_network_errors: result.networkErrors,
      requests: result.requests,
      seconds: Number(result.seconds.toFixed(2)),
      votes_per_second: Number((stored.acknowledged / result.seconds).toFixed(1)),
      readyz: readiness,
      job_through_restart: { status: finalJob?.status, attempts: finalJob?.attempts },
    },
    null,
    2,
  ),
);
await load.close();
await db.dispose();
assert.equal(stored.acknowledged, total, 'every vote was acknowledged in the end');
assert.equal(stored.missing, 0, 'every acknowledged vote is stored');
assert.equal(stored.duplicates, 0, 'no vote is stored twice');
assert.equal(stored.stored, stored.acknowledged, 'acknowledged = stored');
assert.equal(result.conflictingAcks, 0, 'a retried vote is acknowledged as the same vote');
assert.equal(finalJob?.status, 'done', 'the job running through the load finished');
if (restarted) assert.ok(readiness.sawNotReady && readiness.readyAtEnd, '/readyz went not ready and came back');
