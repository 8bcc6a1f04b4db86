/**
 * The database going away under load, on a Postgres server: every connection to the test's own
 * database is terminated in the middle of vote load (what a server restart does to its
 * clients), and the database refuses connections for a while. Acknowledged votes are stored
 * exactly once, clients get a retryable 503 meanwhile, /readyz says "not ready" and then "ready"
 * again, and job workers carry their job through it. The server itself is never restarted here
 * (other test files use it); `npm run bench:votes -- --restart-db` does that.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import {
  completeJob,
  databaseInterruptions,
  enqueueJob,
  getJob,
  isDatabaseUnavailable,
  retryWhileUnavailable,
} from '../db/index.ts';
import { loadConfig } from '../infra/index.ts';
import { type JobHandler, startWorker } from '../trainer/index.ts';
import { openTestDb, type TestDb } from './helpers/db.ts';
import { compareStored, voteLoadApp, voteUntilDone, watchReadiness } from './helpers/vote-load.ts';

const serverUrl = loadConfig().databaseUrl;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The test's own queries meet the stale pooled connections too: tried again after a dropped connection. */
async function retried<T>(query: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await query();
    } catch (err) {
      if (attempt >= 5 || !isDatabaseUnavailable(err)) throw err;
      await sleep(100);
    }
  }
}

describe('the database going away', { skip: serverUrl ? false : 'needs a Postgres server (DATABASE_URL)' }, () => {
  let db: TestDb;
  let cuts: ReturnType<typeof databaseInterruptions>;
  before(async () => {
    db = await openTestDb();
    cuts = databaseInterruptions(serverUrl as string, db.url as string);
  });
  after(async () => {
    await cuts.unblock();
    await cuts.close();
    await db.dispose();
  });

  it('votes under load: every connection cut three times; acknowledged = stored, once each', async () => {
    const load = await voteLoadApp(db, { raters: 6, votesPerRater: 20, sentences: 8 });
    try {
      const ready = watchReadiness(load.base, 25);
      const total = 6 * 20;
      const cutAt = [total / 5, (2 * total) / 5, (3 * total) / 5];
      let outage: Promise<void> = Promise.resolve();
      let cutsMade = 0;
      let severed = 0;
      const result = await voteUntilDone(load.base, load.tokens, {
        onAck: (n) => {
          if (cutsMade < cutAt.length && n >= (cutAt[cutsMade] as number)) {
            cutsMade++;
            outage = outage.then(async () => {
              severed += await cuts.cut();
            });
          }
        },
      });
      await outage;
      const readiness = await ready.stop();
      const stored = await compareStored(db, load.testId, result.acks);
      assert.equal(cutsMade, 3, 'every interruption happened during the load');
      assert.ok(severed > 0, 'connections in use were cut');
      assert.deepEqual(result.refused, [], 'no vote was refused');
      assert.equal(stored.acknowledged, total, 'every vote was acknowledged in the end');
      assert.equal(stored.missing, 0, 'every acknowledged vote is stored');
      assert.equal(stored.duplicates, 0, 'no vote is stored twice');
      assert.equal(stored.unacknowledged, 0, 'nothing is stored that was not acknowledged');
      assert.equal(stored.stored, stored.acknowledged);
      assert.equal(result.conflictingAcks, 0, 'a retry is acknowledged with the same vote');
      assert.deepEqual(
        Object.keys(result.retried503).filter((c) => c !== 'DATABASE_UNAVAILABLE'),
        [],
        'every 503 says why',
      );
      assert.ok(readiness.readyAtEnd, '/readyz is ready again');
      assert.deepEqual(
        readiness.statuses.filter((s) => s !== 200 && s !== 503),
        [],
        '/readyz answers 200 or 503, nothing else',
      );
    } finally {
      await load.close();
    }
  });

  it('a 503 while the database is away carries a stable code and Retry-After; /readyz recovers', async () => {
    const load = await voteLoadApp(db, { raters: 1, votesPerRater: 2, sentences: 4 });
    try {
      const token = load.tokens[0] as string;
      const res = await fetch(`${load.base}/listen/s/${token}`, { headers: { accept: 'application/json' } });
      const state = (await res.json()) as { trial: { trial_id: string } };
      await cuts.block();
      const vote = await fetch(`${load.base}/listen/s/${token}/trials/${state.trial.trial_id}/vote`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ answer: 'a' }),
      });
      assert.equal(vote.status, 503);
      assert.equal(vote.headers.get('retry-after'), '1');
      assert.equal(((await vote.json()) as { code: string }).code, 'DATABASE_UNAVAILABLE');
      const down = await fetch(`${load.base}/readyz`);
      assert.equal(down.status, 503);
      assert.equal(((await down.json()) as { database: string }).database, 'down');
      await cuts.unblock();
      // Ready again once the driver has reconnected (connections it opened while the database
      // refused them can take until their connect timeout to give up).
      let up = 0;
      for (const until = Date.now() + 60_000; up !== 200 && Date.now() < until; ) {
        up = (await fetch(`${load.base}/readyz`)).status;
        if (up !== 200) await sleep(100);
      }
      assert.equal(up, 200, 'ready again once the database is back: the driver reconnects');
      // The client retries as told until it has an answer: the vote is stored then.
      let retried = 503;
      for (const until = Date.now() + 60_000; retried === 503 && Date.now() < until; ) {
        const res = await fetch(`${load.base}/listen/s/${token}/trials/${state.trial.trial_id}/vote`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ answer: 'a' }),
        });
        retried = res.status;
        if (retried === 503) await sleep(1000 * Number(res.headers.get('retry-after')));
      }
      assert.equal(retried, 201, 'the retried vote is stored');
    } finally {
      await cuts.unblock();
      await load.close();
    }
  });

  it('a job worker carries a running job through an outage and keeps serving the queue', async () => {
    const logger = pino({ level: 'silent' });
    let holding = true;
    const runs: number[] = [];
    const handler: JobHandler = {
      async run(ctx) {
        runs.push(ctx.job.id);
        while (holding && ctx.job.payload.hold) {
          await ctx.report({ at: Date.now() });
          await sleep(50);
        }
        await ctx.db.transaction(async (tx) => {
          if (!(await completeJob(tx as never, ctx.lease))) tx.rollback();
        });
      },
      async failed() {},
    };
    const held = await enqueueJob(db.db, { kind: 'outage', payload: { hold: true } });
    const worker = startWorker({ db: db.db, handlers: { outage: handler }, logger, pollMs: 20, leaseMs: 900 });
    try {
      while (runs.length === 0) await sleep(20);
      // Away for longer than a heartbeat interval, then the job's completion meets stale connections.
      await cuts.block();
      await sleep(700);
      await cuts.unblock();
      await cuts.cut();
      holding = false;
      for (let i = 0; i < 1200 && (await retried(() => getJob(db.db, held.id)))?.status !== 'done'; i++) {
        await sleep(50);
      }
      const job = await retried(() => getJob(db.db, held.id));
      assert.equal(job?.status, 'done', `the job ended done (${job?.status}: ${job?.lastError})`);
      assert.ok((job?.attempts ?? 99) <= 1, 'an outage does not use up attempts');
      // The worker is still alive after its claims were refused for a while, and claims the next job.
      await cuts.block();
      await sleep(300);
      await cuts.unblock();
      const queued = await retried(() => enqueueJob(db.db, { kind: 'outage', payload: {} }));
      for (let i = 0; i < 1200 && (await retried(() => getJob(db.db, queued.id)))?.status !== 'done'; i++) {
        await sleep(50);
      }
      assert.equal(
        (await retried(() => getJob(db.db, queued.id)))?.status,
        'done',
        'the worker kept claiming after the outage',
      );
    } finally {
      await cuts.unblock();
      await worker.stop();
    }
  });

  it("a long job's writes wait out an outage; other errors are not retried", async () => {
    const job = await enqueueJob(db.db, { kind: 'outage-write', payload: {} });
    await cuts.block();
    let tries = 0;
    const written = retryWhileUnavailable(() => {
      tries++;
      return getJob(db.db, job.id);
    });
    await sleep(500);
    await cuts.unblock();
    assert.equal((await written)?.id, job.id, 'the write went through once the database was back');
    assert.ok(tries > 1, 'it was tried while the database was away');
    let bad = 0;
    await assert.rejects(
      retryWhileUnavailable(async () => {
        bad++;
        throw new Error('a bug, not an outage');
      }),
      /a bug/,
    );
    assert.equal(bad, 1);
  });
});
