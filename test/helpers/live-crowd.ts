/**
 * Honest raters in real time, for tests that run while other things happen (a training run, a
 * rater in a browser): no mocked clock, so each rater waits as long as its clips last before it
 * answers, as a listener would, and many raters listen at once. What each clip is comes from
 * the stimulus oracle (test/helpers/crowd.ts); an honest answer follows the ranking of the
 * conditions.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type supertest from 'supertest';
import { unpadWav } from '../../listening/index.ts';
import { type Clip, type Oracle, quietestTone, sha256 } from './crowd.ts';
import { binaryBody, parseWav } from './speech.ts';

type Agent = ReturnType<typeof supertest>;

/**
 * What an honest listener answers: the better-ranked clip of an A/B pair, the real recording
 * against its degraded copy, what a trap's spoken instruction asks for (trap sentence 0 asks
 * for sample A, 1 for sample B), and a rating that follows the rank (1–5).
 */
export function honestAnswer(clips: { a: Clip; b?: Clip | undefined }, rank: Record<string, number>): string {
  const { a, b } = clips;
  if (!b) return String(Math.min(5, Math.max(1, (rank[a.conditionId] ?? 0) + 1)));
  if (a.kind === 'trap' || b.kind === 'trap') return (a.kind === 'trap' ? a : b).sentenceIndex === 0 ? 'a' : 'b';
  if (a.kind === 'degraded' || b.kind === 'degraded') return a.kind === 'real' ? 'a' : 'b';
  return (rank[a.conditionId] ?? 0) > (rank[b.conditionId] ?? 0) ? 'a' : 'b';
}

/** A clip as served to raters: padded to one size per trial; what plays is exactly the stored stimulus. */
export function identify(oracle: Oracle, served: Uint8Array): Clip & { seconds: number } {
  const bytes = unpadWav(served);
  const clip = oracle.get(sha256(bytes));
  assert.ok(clip, 'a served clip is one of the stored stimuli');
  const wav = parseWav(bytes);
  return { ...clip, seconds: wav.samples.length / wav.sampleRate };
}

const download = async (request: Agent, url: string): Promise<Uint8Array> => {
  const res = await request
    .get(url)
    .buffer(true)
    .parse(binaryBody as never);
  assert.equal(res.status, 200, url);
  return new Uint8Array(res.body);
};

/**
 * One honest rater, from the invitation to the completion code, in real time: each answer
 * comes after the trial's clips have had time to play (and never under 1.6 s), so no answer
 * is "too fast". Returns the number of answers.
 */
export async function takePartLive(
  request: Agent,
  opts: { invite: string; oracle: Oracle; rank: Record<string, number>; workerId: string },
): Promise<number> {
  const joined = await request.post(opts.invite).send({ consent: true, worker_id: opts.workerId });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  const token: string = joined.body.token;
  const state = async () => {
    const res = await request.get(`/listen/s/${token}`).set('Accept', 'application/json');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const answers: number[] = [];
  for (let q = 0; q < 3; q++) {
    answers.push(quietestTone(await download(request, `/listen/s/${token}/headphones/${q}.wav`), 'headphones'));
  }
  const check = await request.post(`/listen/s/${token}/headphones`).send({ answers });
  assert.equal(check.body.passed, true, 'an honest rater with headphones passes the check');
  let answered = 0;
  for (;;) {
    const s = await state();
    if (s.step !== 'trial') break;
    const clips: Record<string, Clip & { seconds: number }> = {};
    for (const [slot, url] of Object.entries(s.trial.audio as Record<string, string>)) {
      clips[slot] = identify(opts.oracle, await download(request, url));
    }
    const listenMs = Math.max(1600, 1000 * Object.values(clips).reduce((sum, c) => sum + c.seconds, 0) + 300);
    await sleep(listenMs);
    const answer = honestAnswer({ a: clips.a as Clip, b: clips.b }, opts.rank);
    const vote = await request
      .post(`/listen/s/${token}/trials/${s.trial.trial_id}/vote`)
      .send({ answer, played_ms: Math.round(listenMs) });
    assert.equal(vote.status, 201, JSON.stringify(vote.body));
    answered++;
  }
  const done = await request.post(`/listen/s/${token}/complete`).send({});
  assert.equal(done.status, 200, JSON.stringify(done.body));
  return answered;
}
