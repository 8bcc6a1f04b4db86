import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import {
  createApiKey,
  defaultBaseCheckpoint,
  deleteVoice,
  findActiveKey,
  findVoice,
  getCheckpoint,
  insertCheckpoint,
  insertVoice,
  promoteCheckpoint,
  revokeApiKey,
  rollbackPromotion,
  setCheckpointKind,
  updateVoice,
} from './index.ts';
import { forgetLookups, remembered } from './queries/lookups.ts';

const MINUTE = 60_000;

/** A loader that counts its calls and answers what `answer` says at the time of the call. */
function counting<T>(answer: () => T | undefined | Promise<T | undefined>) {
  const c = {
    calls: 0,
    load: async () => {
      c.calls++;
      return answer();
    },
  };
  return c;
}

// Runs on PGlite by default and on the server when DATABASE_URL is set (as CI does both).
describe('lookups kept for the synthesis path (db/queries/lookups.ts)', () => {
  let t: TestDb;
  let other: TestDb;
  before(async () => {
    t = await openTestDb();
    other = await openTestDb({ migrated: false });
  });
  after(async () => {
    await t.dispose();
    await other.dispose();
  });

  it('concurrent lookups of one thing share one load; a found answer is kept for maxAgeMs, then loaded again', async () => {
    const c = counting(() => ({ n: 1 }));
    const answers = await Promise.all(Array.from({ length: 10 }, () => remembered(t.db, 'a', 80, c.load)));
    assert.equal(c.calls, 1);
    assert.ok(answers.every((a) => a === answers[0]));
    await remembered(t.db, 'a', 80, c.load);
    assert.equal(c.calls, 1, 'within the age');
    await sleep(120);
    await remembered(t.db, 'a', 80, c.load);
    assert.equal(c.calls, 2, 'past the age');
    await remembered(other.db, 'a', 80, c.load);
    assert.equal(c.calls, 3, 'another database handle keeps its own');
  });

  it('keeps nothing with maxAgeMs 0, nor an answer that found nothing or failed', async () => {
    const c = counting(() => ({ n: 1 }));
    await remembered(t.db, 'b', 0, c.load);
    await remembered(t.db, 'b', 0, c.load);
    assert.equal(c.calls, 2);
    const none = counting<{ n: number }>(() => undefined);
    assert.equal(await remembered(t.db, 'c', MINUTE, none.load), undefined);
    assert.equal(await remembered(t.db, 'c', MINUTE, none.load), undefined);
    assert.equal(none.calls, 2);
    let fail = true;
    const flaky = counting(() => {
      if (fail) throw new Error('database went away');
      return { n: 2 };
    });
    await assert.rejects(remembered(t.db, 'd', MINUTE, flaky.load), /went away/);
    fail = false;
    assert.deepEqual(await remembered(t.db, 'd', MINUTE, flaky.load), { n: 2 });
    assert.equal(flaky.calls, 2);
  });

  it('a lookup in flight when a write forgets the kept ones is not kept', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = counting(async () => {
      await gate;
      return { stale: true };
    });
    const inFlight = remembered(t.db, 'e', MINUTE, slow.load);
    forgetLookups(t.db);
    release();
    assert.deepEqual(await inFlight, { stale: true }, 'its own callers still get it');
    const fresh = counting(() => ({ stale: false }));
    assert.deepEqual(await remembered(t.db, 'e', MINUTE, fresh.load), { stale: false });
    assert.equal(fresh.calls, 1);
  });

  it('a key revoked through this process is refused at once; one revoked by another process after maxAgeMs', async () => {
    const a = await createApiKey(t.db, { name: 'a', scope: 'synth' });
    assert.equal((await findActiveKey(t.db, a.token, MINUTE))?.id, a.key.id);
    await revokeApiKey(t.db, a.key.id);
    assert.equal(await findActiveKey(t.db, a.token, MINUTE), undefined);

    const b = await createApiKey(t.db, { name: 'b', scope: 'synth' });
    assert.equal((await findActiveKey(t.db, b.token, 100))?.id, b.key.id);
    // Another process's write: straight to the table, past this process's query functions.
    await t.db.execute(sql`update api_keys set revoked_at = now() where id = ${b.key.id}`);
    assert.equal((await findActiveKey(t.db, b.token, 100))?.id, b.key.id, 'still kept within the age');
    await sleep(150);
    assert.equal(await findActiveKey(t.db, b.token, 100), undefined);
    assert.equal(await findActiveKey(t.db, b.token), undefined, 'maxAgeMs 0 asks the database');
  });

  it('voices: a rename, a newer voice of the same name, a promotion, a rollback and a deletion count at once', async () => {
    const base = await insertCheckpoint(t.db, { name: 'base', kind: 'base', status: 'ready', packagePath: '/m/b' });
    const step = await insertCheckpoint(t.db, { name: 'run', step: 1, status: 'ready', packagePath: '/m/s' });
    const { voice } = await insertVoice(t.db, { name: 'ada', language: 'en' }, []);
    assert.equal((await findVoice(t.db, 'ada', MINUTE))?.id, voice.id);
    assert.equal((await findVoice(t.db, voice.id, MINUTE))?.checkpointId, null);

    const { voice: newer } = await insertVoice(t.db, { name: 'ada', language: 'en' }, []);
    assert.equal((await findVoice(t.db, 'ada', MINUTE))?.id, newer.id, 'the newest of a name');
    await updateVoice(t.db, newer.id, { name: 'grace' });
    assert.equal((await findVoice(t.db, 'ada', MINUTE))?.id, voice.id);
    assert.equal((await findVoice(t.db, 'grace', MINUTE))?.id, newer.id);

    const promoted = await promoteCheckpoint(t.db, {
      voiceId: voice.id,
      expectedFrom: null,
      to: step.id,
      testId: null,
      statistics: {},
      actor: 'test',
    });
    assert.ok(promoted.ok);
    assert.equal((await findVoice(t.db, voice.id, MINUTE))?.checkpointId, step.id);
    assert.ok((await rollbackPromotion(t.db, voice.id, 'test')).ok);
    assert.equal((await findVoice(t.db, voice.id, MINUTE))?.checkpointId, null);

    await deleteVoice(t.db, voice.id);
    assert.equal(await findVoice(t.db, voice.id, MINUTE), undefined);
    assert.equal(await findVoice(t.db, 'ada', MINUTE), undefined);
    assert.equal((await getCheckpoint(t.db, base.id, MINUTE))?.id, base.id);
  });

  it('the default base: a newer base, and a base made fine-tuned, count at once', async () => {
    const first = await defaultBaseCheckpoint(t.db, MINUTE);
    assert.ok(first);
    const newer = await insertCheckpoint(t.db, { name: 'base 2', kind: 'base', status: 'ready', packagePath: '/m/b2' });
    assert.equal((await defaultBaseCheckpoint(t.db, MINUTE))?.id, newer.id);
    await setCheckpointKind(t.db, newer.id, 'fine-tuned');
    assert.equal((await defaultBaseCheckpoint(t.db, MINUTE))?.id, first.id);
    assert.equal((await getCheckpoint(t.db, newer.id, MINUTE))?.kind, 'fine-tuned');
  });
});
