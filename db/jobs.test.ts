import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import {
  cancelledJob,
  claimJob,
  completeJob,
  enqueueJob,
  failJob,
  getJob,
  heartbeatJob,
  requestCancel,
  requeueJob,
} from './index.ts';

// Runs on PGlite by default and on the server when DATABASE_URL is set (as CI does both).
describe('job queue', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
  });
  after(() => t.dispose());

  it('a job is claimed by one worker only, even when many claim at once', async () => {
    const job = await enqueueJob(t.db, { kind: 'q1', payload: { n: 1 } });
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) => claimJob(t.db, { workerId: `w${i}`, kinds: ['q1'], leaseMs: 60_000 })),
    );
    const won = claims.filter((c) => c.job !== undefined);
    assert.equal(won.length, 1);
    assert.equal(won[0]?.job.id, job.id);
    assert.equal(won[0]?.lease.attempt, 1);
    assert.equal((await claimJob(t.db, { workerId: 'late', kinds: ['q1'], leaseMs: 60_000 })).job, undefined);
  });

  it('an expired lease is claimed again; the old holder can neither renew nor complete', async () => {
    await enqueueJob(t.db, { kind: 'q2', payload: {} });
    const first = await claimJob(t.db, { workerId: 'dies', kinds: ['q2'], leaseMs: 1 });
    assert.ok(first.job);
    await new Promise((r) => setTimeout(r, 20));
    const second = await claimJob(t.db, { workerId: 'next', kinds: ['q2'], leaseMs: 60_000 });
    assert.ok(second.job, 'the expired job is claimable');
    assert.equal(second.job.id, first.job.id);
    assert.equal(second.lease.attempt, 2);
    assert.equal(await heartbeatJob(t.db, first.lease, 60_000), 'lost');
    assert.equal(await completeJob(t.db, first.lease), false);
    assert.equal(await heartbeatJob(t.db, second.lease, 60_000, { stage: 'x' }), 'ok');
    assert.equal(await completeJob(t.db, second.lease), true);
    assert.equal(await completeJob(t.db, second.lease), false, 'never completes twice');
    const row = await getJob(t.db, first.job.id);
    assert.equal(row?.status, 'done');
    assert.deepEqual(row?.progress, { stage: 'x' });
  });

  it('a job that keeps losing its worker fails after its attempts, with the reason', async () => {
    const job = await enqueueJob(t.db, { kind: 'q3', payload: {}, maxAttempts: 2 });
    for (let i = 0; i < 2; i++) {
      assert.ok((await claimJob(t.db, { workerId: `w${i}`, kinds: ['q3'], leaseMs: 1 })).job);
      await new Promise((r) => setTimeout(r, 20));
    }
    const last = await claimJob(t.db, { workerId: 'w3', kinds: ['q3'], leaseMs: 1 });
    assert.equal(last.job, undefined);
    assert.deepEqual(
      last.expired.map((j) => j.id),
      [job.id],
      'the expired job is handed back so its dataset or run can be marked failed',
    );
    const row = await getJob(t.db, job.id);
    assert.equal(row?.status, 'failed');
    assert.match(row?.lastError ?? '', /stopped answering/);
  });

  it('failures retry while attempts remain; permanent ones fail at once', async () => {
    const job = await enqueueJob(t.db, { kind: 'q4', payload: {}, maxAttempts: 2 });
    const a = await claimJob(t.db, { workerId: 'a', kinds: ['q4'], leaseMs: 60_000 });
    assert.ok(a.job);
    assert.equal(await failJob(t.db, a.lease, 'flaky', { retry: true, retryInMs: 0 }), 'queued');
    const b = await claimJob(t.db, { workerId: 'b', kinds: ['q4'], leaseMs: 60_000 });
    assert.ok(b.job);
    assert.equal(await failJob(t.db, b.lease, 'flaky again', { retry: true, retryInMs: 0 }), 'failed');
    assert.equal((await getJob(t.db, job.id))?.lastError, 'flaky again');
    const other = await enqueueJob(t.db, { kind: 'q4', payload: {} });
    const c = await claimJob(t.db, { workerId: 'c', kinds: ['q4'], leaseMs: 60_000 });
    assert.ok(c.job);
    assert.equal(c.job.id, other.id);
    assert.equal(await failJob(t.db, c.lease, 'bad input', { retry: false }), 'failed');
  });

  it('cancel ends a queued job at once and asks a running one to stop; resume requeues it', async () => {
    const queued = await enqueueJob(t.db, { kind: 'q5', payload: {} });
    assert.equal(await requestCancel(t.db, queued.id), 'cancelled');
    assert.equal((await claimJob(t.db, { workerId: 'w', kinds: ['q5'], leaseMs: 60_000 })).job, undefined);
    const running = await enqueueJob(t.db, { kind: 'q6', payload: {} });
    const held = await claimJob(t.db, { workerId: 'w', kinds: ['q6'], leaseMs: 60_000 });
    assert.ok(held.job);
    assert.equal(await requestCancel(t.db, running.id), 'requested');
    assert.equal(await heartbeatJob(t.db, held.lease, 60_000), 'cancel');
    assert.equal(await cancelledJob(t.db, held.lease), true);
    assert.equal((await getJob(t.db, running.id))?.status, 'cancelled');
    assert.equal(await requestCancel(t.db, running.id), 'ended');
    assert.equal(await requeueJob(t.db, running.id), true);
    const again = await claimJob(t.db, { workerId: 'w2', kinds: ['q6'], leaseMs: 60_000 });
    assert.equal(again.job?.id, running.id);
    assert.equal(await requestCancel(t.db, 999_999), 'missing');
  });

  it('kinds keep queues apart', async () => {
    await enqueueJob(t.db, { kind: 'only-a', payload: {} });
    assert.equal((await claimJob(t.db, { workerId: 'w', kinds: ['only-b'], leaseMs: 60_000 })).job, undefined);
    assert.ok((await claimJob(t.db, { workerId: 'w', kinds: ['only-a', 'only-b'], leaseMs: 60_000 })).job);
  });
});
