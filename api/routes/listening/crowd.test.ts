import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { schema } from '../../../db/index.ts';
import { joinAsRater, type ListeningTestApp, listeningTestApp, openedTest } from '../../../test/helpers/listening.ts';

const { votes, trials } = schema;

describe('crowd sessions and votes (espeak-ng speech stands in for rendered checkpoints)', () => {
  let t: ListeningTestApp;
  let test: Awaited<ReturnType<typeof openedTest>>;
  before(async () => {
    t = await listeningTestApp();
    test = await openedTest(t);
  });
  after(() => t.close());

  const storedVotes = async () => t.db.db.select().from(votes);
  const state = (token: string) => t.request.get(`/listen/s/${token}`).set('Accept', 'application/json');

  it('shows the rater nothing that names a condition or checkpoint', async () => {
    const { token } = await joinAsRater(t, test.invite_url);
    const res = await state(token);
    assert.equal(res.status, 200);
    assert.equal(res.body.step, 'trial');
    const text = JSON.stringify(res.body);
    for (const c of test.conditions) {
      assert.ok(!text.includes(c.id), 'no condition id');
      if (c.checkpoint_id) assert.ok(!text.includes(c.checkpoint_id), 'no checkpoint id');
    }
    assert.ok(!/run-1|base|real|degraded/i.test(text), 'no labels');
    const audio = await t.request.get(res.body.trial.audio.a);
    assert.equal(audio.status, 200);
    assert.equal(audio.headers['content-type'], 'audio/wav');
    assert.equal(audio.body.subarray(0, 4).toString(), 'RIFF');
  });

  it('refuses trials before the headphone check, and screens out a failed check', async () => {
    const { token, raterId } = await joinAsRater(t, test.invite_url, { passHeadphones: false });
    assert.equal((await state(token)).body.step, 'headphones');
    const [trial] = await t.db.db.select().from(trials).where(eq(trials.raterId, raterId)).limit(1);
    // A well-formed answer for the trial's kind, so only "not shown yet" can refuse it.
    const answer = trial?.kind.startsWith('ab_') ? 'a' : '3';
    const vote = await t.request.post(`/listen/s/${token}/trials/${trial?.id}/vote`).send({ answer });
    assert.equal(vote.status, 409);
    assert.equal(vote.body.code, 'VOTE_REJECTED', 'an unshown trial cannot be voted on');
    const hp = await t.request.post(`/listen/s/${token}/headphones`).send({ answers: [9, 9, 9] });
    assert.equal(hp.body.passed, false);
    assert.equal((await state(token)).body.step, 'screened-out');
  });

  it('stores a vote once: a retry is idempotent, a changed answer is refused, nothing is corrupted', async () => {
    const { token } = await joinAsRater(t, test.invite_url);
    const { trial } = (await state(token)).body;
    const answer = trial.task.startsWith('ab_') ? 'a' : '4';
    const other = trial.task.startsWith('ab_') ? 'b' : '2';
    const url = `/listen/s/${token}/trials/${trial.trial_id}/vote`;
    const first = await t.request.post(url).send({ answer, played_ms: 3000 });
    assert.equal(first.status, 201);
    const again = await t.request.post(url).send({ answer, played_ms: 3000 });
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.vote_id, first.body.vote_id);
    const changed = await t.request.post(url).send({ answer: other });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.code, 'VOTE_REJECTED');
    const mine = (await storedVotes()).filter((v) => v.trialId === trial.trial_id);
    assert.deepEqual(
      mine.map((v) => v.answer),
      [answer],
    );
    // Five copies of one submission racing each other: one stores, the others see it.
    const next = (await state(token)).body.trial;
    const body = { answer: next.task.startsWith('ab_') ? 'b' : '3' };
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => t.request.post(`/listen/s/${token}/trials/${next.trial_id}/vote`).send(body)),
    );
    assert.deepEqual(racing.map((r) => r.status).sort(), [200, 200, 200, 200, 201]);
    assert.equal(new Set(racing.map((r) => r.body.vote_id)).size, 1);
    assert.equal((await storedVotes()).filter((v) => v.trialId === next.trial_id).length, 1);
  });

  it('rejects votes on trials of another rater, forged trial ids and forged or replaced tokens', async () => {
    const alice = await joinAsRater(t, test.invite_url, { workerId: 'W-alice' });
    const bob = await joinAsRater(t, test.invite_url);
    const bobTrial = (await state(bob.token)).body.trial;
    const before = (await storedVotes()).length;

    const stolen = await t.request
      .post(`/listen/s/${alice.token}/trials/${bobTrial.trial_id}/vote`)
      .send({ answer: 'a' });
    assert.equal(stolen.status, 404);
    assert.equal(stolen.body.code, 'TRIAL_NOT_FOUND');
    const random = await t.request
      .post(`/listen/s/${alice.token}/trials/6f1c1b53-1c5e-4c1e-9d55-1a2b3c4d5e6f/vote`)
      .send({ answer: 'a' });
    assert.equal(random.status, 404);
    const garbage = await t.request.post(`/listen/s/${alice.token}/trials/..%2F..%2Fetc/vote`).send({ answer: 'a' });
    assert.equal(garbage.status, 404);
    const forged = await t.request
      .post(`/listen/s/lrt_${'A'.repeat(43)}/trials/${bobTrial.trial_id}/vote`)
      .send({ answer: 'a' });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, 'RATER_TOKEN_INVALID');
    const bad = await t.request
      .post(`/listen/s/${bob.token}/trials/${bobTrial.trial_id}/vote`)
      .send({ answer: 'maybe' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'body.answer');

    // A returning worker resumes as the same rater with a new token; the old one is dead.
    const again = await joinAsRater(t, test.invite_url, { workerId: 'W-alice', passHeadphones: false });
    assert.equal(again.raterId, alice.raterId);
    const replayed = await state(alice.token);
    assert.equal(replayed.status, 401);
    assert.equal((await state(again.token)).body.step, 'trial', 'the headphone check stays passed');

    assert.equal((await storedVotes()).length, before, 'no rejected request stored anything');
  });

  it('completes only when every trial is answered; the code is stable', async () => {
    const { token } = await joinAsRater(t, test.invite_url);
    const early = await t.request.post(`/listen/s/${token}/complete`).send({});
    assert.equal(early.status, 409);
    assert.equal(early.body.code, 'SESSION_INCOMPLETE');
    for (;;) {
      const s = (await state(token)).body;
      if (s.step !== 'trial') break;
      const r = await t.request
        .post(`/listen/s/${token}/trials/${s.trial.trial_id}/vote`)
        .send({ answer: s.trial.task.startsWith('ab_') ? 'a' : '4' });
      assert.equal(r.status, 201);
    }
    const done = await t.request.post(`/listen/s/${token}/complete`).send({});
    assert.equal(done.status, 200);
    assert.match(done.body.completion_code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
    const twice = await t.request.post(`/listen/s/${token}/complete`).send({});
    assert.equal(twice.body.completion_code, done.body.completion_code);
  });

  it('refuses votes and new raters once the test is closed', async () => {
    const { token } = await joinAsRater(t, test.invite_url);
    const trial = (await state(token)).body.trial;
    const closed = await t.request.post(`/v1/listening/tests/${test.id}/close`).set(t.auth(t.tokens.admin));
    assert.equal(closed.status, 200);
    const vote = await t.request.post(`/listen/s/${token}/trials/${trial.trial_id}/vote`).send({ answer: 'a' });
    assert.equal(vote.status, 409);
    assert.equal(vote.body.code, 'TEST_CLOSED');
    const join = await t.request.post(test.invite_url).send({ consent: true });
    assert.equal(join.body.code, 'TEST_CLOSED');
  });
});
