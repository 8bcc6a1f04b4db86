import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { flagRater, getVoice, schema } from '../../../db/index.ts';
import { joinAsRater, type ListeningTestApp, listeningTestApp, openedTest } from '../../../test/helpers/listening.ts';

const { trials, stimuli, votes, raters } = schema;

/**
 * Answers a rater's whole session. Each trial is aged 30 s before its vote, as if the rater
 * had listened, so the timing checks see an attentive rater; `prefer` picks A/B answers.
 */
async function answerAll(
  t: ListeningTestApp,
  token: string,
  prefer: (a: string, b: string) => 'a' | 'b',
  options: { failChecks?: boolean } = {},
) {
  for (;;) {
    const s = (await t.request.get(`/listen/s/${token}`).set('Accept', 'application/json')).body;
    if (s.step !== 'trial') {
      // A rater's answers enter the promotion decision once their session is complete.
      if (s.step === 'done' && !s.completion_code) await t.request.post(`/listen/s/${token}/complete`).send({});
      return;
    }
    const id = s.trial.trial_id;
    await t.db.db.execute(sql`update trials set served_at = served_at - interval '30 seconds' where id = ${id}`);
    const [row] = await t.db.db.select().from(trials).where(eq(trials.id, id));
    if (!row) throw new Error('trial row');
    let answer: string;
    if (row.role !== 'normal') {
      const right = row.expected as 'a' | 'b';
      answer = options.failChecks ? (right === 'a' ? 'b' : 'a') : right;
    } else if (row.kind.startsWith('ab_')) {
      const cond = async (stim: string | null) =>
        stim ? ((await t.db.db.select().from(stimuli).where(eq(stimuli.id, stim)))[0]?.conditionId ?? '') : '';
      answer = prefer(await cond(row.stimulusA), await cond(row.stimulusB));
    } else answer = '4';
    const r = await t.request.post(`/listen/s/${token}/trials/${id}/vote`).send({ answer, played_ms: 30000 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
}

describe('listening-test administration, statistics and promotion (espeak-ng speech stands in for rendered checkpoints)', () => {
  let t: ListeningTestApp;
  before(async () => {
    t = await listeningTestApp();
  });
  after(() => t.close());

  it('keeps admin routes behind an admin key and validates the request', async () => {
    assert.equal((await t.request.get('/v1/listening/tests')).status, 401);
    assert.equal((await t.request.get('/v1/listening/tests').set(t.auth(t.tokens.synth))).status, 403);
    const bad = await t.request
      .post('/v1/listening/tests')
      .set(t.auth(t.tokens.admin))
      .send({ voice_id: t.voice.id, name: 'x', checkpoint_ids: [], sentences: [{ text: 'a' }], trials_per_rater: {} });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.checkpoint_ids');
    const missing = await t.request
      .post('/v1/listening/tests')
      .set(t.auth(t.tokens.admin))
      .send({
        voice_id: t.base.id,
        name: 'x',
        checkpoint_ids: [t.base.id],
        sentences: [{ text: 'a' }],
        trials_per_rater: {},
      });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'VOICE_NOT_FOUND');
  });

  it('will not open a test before every stimulus is rendered, and ties each stimulus to checkpoint, text and seed', async () => {
    const created = await t.request
      .post('/v1/listening/tests')
      .set(t.auth(t.tokens.admin))
      .send({
        voice_id: t.voice.id,
        name: 'not ready',
        checkpoint_ids: [t.checkpoints[0]?.id],
        base_checkpoint_id: t.base.id,
        sentences: [{ text: 'Hello there.', seed: 42 }],
        // No real recordings in this test, so no trials that need them.
        trials_per_rater: { ab_naturalness: 2, ab_similarity: 0, mos: 0, similarity: 0 },
        gold_per_rater: 0,
        trap_per_rater: 0,
      });
    assert.equal(created.status, 201);
    const early = await t.request.post(`/v1/listening/tests/${created.body.id}/open`).set(t.auth(t.tokens.admin));
    assert.equal(early.status, 409);
    assert.equal(early.body.code, 'TEST_NOT_READY');
    const r = await t.request
      .post(`/v1/listening/tests/${created.body.id}/render`)
      .set(t.auth(t.tokens.admin))
      .send({ max: 1 });
    assert.deepEqual([r.body.rendered, r.body.remaining], [1, 1]);
    await t.request.post(`/v1/listening/tests/${created.body.id}/render`).set(t.auth(t.tokens.admin)).send({});
    const rows = await t.db.db.select().from(stimuli).where(eq(stimuli.testId, created.body.id));
    assert.equal(rows.length, 2);
    for (const s of rows) assert.deepEqual([s.text, s.seed, s.sentenceIndex], ['Hello there.', 42, 0]);
    const open = await t.request.post(`/v1/listening/tests/${created.body.id}/open`).set(t.auth(t.tokens.admin));
    assert.equal(open.status, 200);
    assert.equal(open.body.status, 'open');
  });

  it('flags a rater who fails the checks, keeps their votes and leaves them out of the statistics', async () => {
    const test = await openedTest(t, { name: 'quality' });
    const good = await joinAsRater(t, test.invite_url);
    const bad = await joinAsRater(t, test.invite_url);
    await answerAll(t, good.token, () => 'a');
    await answerAll(t, bad.token, () => 'b', { failChecks: true });
    const [flagged] = await t.db.db.select().from(raters).where(eq(raters.id, bad.raterId));
    assert.ok(flagged?.flaggedAt, 'flagged');
    assert.match(flagged?.flagReason ?? '', /trap|gold/);
    const stored = await t.db.db.select().from(votes).where(eq(votes.raterId, bad.raterId));
    assert.ok(stored.length > 0, 'their votes are kept');
    const results = await t.request.get(`/v1/listening/tests/${test.id}/results`).set(t.auth(t.tokens.admin));
    assert.equal(results.status, 200);
    assert.ok(results.body.excluded_votes >= stored.length);
    assert.ok(
      results.body.quality.every((q: { rater_id: string }) => q.rater_id !== bad.raterId),
      'not among counted raters',
    );
    const csv = await t.request
      .get(`/v1/listening/tests/${test.id}/results.csv?table=votes`)
      .set(t.auth(t.tokens.admin));
    assert.equal(csv.status, 200);
    assert.equal(csv.text.trim().split('\r\n').length - 1, results.body.votes, 'every stored vote is exported');
  });

  it('results follow every new vote and rater flag: the cached votes and statistics are never stale', async () => {
    const test = await openedTest(t, { name: 'fresh' });
    const get = async () =>
      (await t.request.get(`/v1/listening/tests/${test.id}/results`).set(t.auth(t.tokens.admin))).body;
    const first = await joinAsRater(t, test.invite_url);
    await answerAll(t, first.token, () => 'a');
    const one = await get();
    const second = await joinAsRater(t, test.invite_url);
    await answerAll(t, second.token, () => 'b');
    const two = await get();
    const stored = await t.db.db.select().from(votes).innerJoin(trials, eq(trials.id, votes.trialId));
    const ofTest = stored.filter((r) => r.trials.testId === test.id).length;
    assert.equal(two.votes, ofTest, 'every stored vote is counted');
    assert.ok(two.votes > one.votes);
    assert.deepEqual([one.raters.completed, two.raters.completed], [1, 2]);
    await flagRater(t.db.db, second.raterId, 'manual');
    const three = await get();
    assert.equal(three.raters.flagged, 1);
    assert.equal(three.excluded_votes - two.excluded_votes, two.votes - one.votes, "the flagged rater's votes");
    assert.ok(three.quality.every((q: { rater_id: string }) => q.rater_id !== second.raterId));
  });

  it('promotes the checkpoint listeners prefer, records why, and rolls back one step', async () => {
    const winner = t.checkpoints[1];
    assert.ok(winner);
    const test = await openedTest(t, {
      name: 'promotion',
      trials_per_rater: { ab_naturalness: 10, mos: 2 },
      // Fewer raters than a real test: a looser rate, still valid at every look.
      promotion_policy: { alpha: 0.05, min_raters: 6 },
    });
    const winnerCondition = test.conditions.find((c) => c.checkpoint_id === winner.id)?.id;
    const notYet = await t.request.post(`/v1/listening/tests/${test.id}/promote`).set(t.auth(t.tokens.admin));
    assert.equal(notYet.status, 409);
    assert.equal(notYet.body.code, 'PROMOTION_NOT_JUSTIFIED');

    for (let i = 0; i < 12; i++) {
      const r = await joinAsRater(t, test.invite_url);
      await answerAll(t, r.token, (a, b) =>
        a === winnerCondition ? 'a' : b === winnerCondition ? 'b' : i % 2 ? 'a' : 'b',
      );
    }
    const results = await t.request.get(`/v1/listening/tests/${test.id}/results`).set(t.auth(t.tokens.admin));
    assert.equal(results.body.decision.promote, true, JSON.stringify(results.body.decision));
    assert.equal(results.body.decision.winner, winnerCondition);

    const promoted = await t.request.post(`/v1/listening/tests/${test.id}/promote`).set(t.auth(t.tokens.admin));
    assert.equal(promoted.status, 201);
    assert.equal(promoted.body.to_checkpoint_id, winner.id);
    assert.equal(promoted.body.from_checkpoint_id, t.base.id);
    assert.equal(promoted.body.actor, 'test admin');
    const verdict = promoted.body.statistics.audit.candidates.find((c: { item: string }) => c.item === winnerCondition);
    assert.equal(verdict.naturalness.superiority.rejected, true, 'the numbers behind it are stored');
    assert.equal(verdict.similarity.non_inferiority.rejected, true);
    assert.equal((await getVoice(t.db.db, t.voice.id))?.checkpointId, winner.id, 'synthesis now uses it');

    const again = await t.request.post(`/v1/listening/tests/${test.id}/promote`).set(t.auth(t.tokens.admin));
    assert.equal(again.status, 409, 'the promoted checkpoint is now the incumbent');

    const back = await t.request.post(`/v1/listening/voices/${t.voice.id}/rollback`).set(t.auth(t.tokens.admin));
    assert.equal(back.status, 201);
    assert.equal(back.body.to_checkpoint_id, t.base.id);
    assert.equal((await getVoice(t.db.db, t.voice.id))?.checkpointId, t.base.id);
    const twice = await t.request.post(`/v1/listening/voices/${t.voice.id}/rollback`).set(t.auth(t.tokens.admin));
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'NOTHING_TO_ROLL_BACK');
    const history = await t.request.get(`/v1/listening/promotions?voice_id=${t.voice.id}`).set(t.auth(t.tokens.admin));
    assert.deepEqual(
      history.body.data.map((p: { action: string }) => p.action),
      ['rollback', 'promote'],
    );

    const page = await t.request.get(`/v1/listening/tests/${test.id}/report`).set(t.auth(t.tokens.admin));
    assert.equal(page.status, 200);
    assert.match(page.text, /<svg[^>]+role="img"/);
    assert.match(page.text, /The promotion rule names <strong>run-1 \(step 2\)<\/strong>/);
  });

  it('limits requests per rater token', async () => {
    const limited = await listeningTestApp({ crowdLimits: { joinsPerMinute: 2, requestsPerMinute: 3 } });
    try {
      const test = await openedTest(limited, { name: 'limits' });
      const { token } = await joinAsRater(limited, test.invite_url, { passHeadphones: false });
      const statuses = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await limited.request.get(`/listen/s/${token}`).set('Accept', 'application/json')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      await limited.request.post(test.invite_url).send({ consent: true });
      const third = await limited.request.post(test.invite_url).send({ consent: true });
      assert.equal(third.status, 429);
      assert.ok(third.headers['retry-after']);
    } finally {
      await limited.close();
    }
  });
});
