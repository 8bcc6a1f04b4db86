/**
 * A scripted crowd for end-to-end listening tests: raters who join through the invitation, pass
 * (or fail) the headphone check, listen to every clip of each A/B trial and vote through the
 * crowd endpoints. The script is the oracle the crowd pages hide: it knows which condition a
 * clip is by its bytes (from the stimuli the server stored), as a real listener "knows" which
 * clip sounds better. Listening time is simulated with a mocked clock, advanced by the length
 * of the audio a rater downloads, so the timing checks see what they would see.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { TestContext } from 'node:test';
import type supertest from 'supertest';
import type { Db } from '../../db/index.ts';
import { listConditions, listStimuli } from '../../db/index.ts';
import { createRng, unpadWav } from '../../listening/index.ts';
import { binaryBody, parseWav } from './speech.ts';

export type Listener = 'honest' | 'always-left' | 'random-fast' | 'loudspeakers';
export type Clip = { kind: string; conditionId: string; sentenceIndex: number };
export type Oracle = Map<string, Clip>;

/** supertest's agent, as the test app exposes it. */
type Agent = ReturnType<typeof supertest>;

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every stored stimulus of a test by its sha256: what each clip really is. */
export async function stimulusOracle(db: Db, testId: string): Promise<Oracle> {
  const kinds = new Map((await listConditions(db, testId)).map((c) => [c.id, c.kind]));
  const oracle: Oracle = new Map();
  for (const s of await listStimuli(db, testId)) {
    oracle.set(s.sha256, {
      kind: kinds.get(s.conditionId) ?? '',
      conditionId: s.conditionId,
      sentenceIndex: s.sentenceIndex,
    });
  }
  return oracle;
}

/**
 * The quiet tone of a headphone-check question. Through headphones each ear hears its own
 * channel, so the tone with the least energy in one channel is the quiet one. Over
 * loudspeakers the channels sum in the air and the antiphase tone cancels, so a listener
 * without headphones hears that one as the quietest, which is what the check catches.
 */
export function quietestTone(wav: Uint8Array, over: 'headphones' | 'loudspeakers'): number {
  const { channels, samples } = parseWav(wav);
  assert.equal(channels, 2, 'the headphone check is stereo');
  const frames = samples.length / 2;
  const third = Math.floor(frames / 3);
  const energy = [0, 0, 0];
  for (let i = 0; i < frames; i++) {
    const left = samples[2 * i] as number;
    const right = samples[2 * i + 1] as number;
    const heard = over === 'headphones' ? left : left + right;
    const tone = Math.min(2, Math.floor(i / third));
    energy[tone] = (energy[tone] as number) + heard * heard;
  }
  return energy.indexOf(Math.min(...energy));
}

export type Participation = {
  listener: Listener;
  token: string;
  /** A/B votes on rendered or real speech (not checks) this rater cast honestly. */
  honestPreferences: number;
  /** Every clip the rater heard, with its bytes. */
  heard: Array<Clip & { bytes: Uint8Array }>;
};

/**
 * One rater's session, from the invitation to the completion code. `rank` orders conditions
 * by how good they sound to an honest listener (higher is better); one time in ten an honest
 * listener hears a pair the other way round. Needs `ctx.mock.timers` enabled for Date.
 */
export async function takePart(
  request: Agent,
  ctx: TestContext,
  opts: { invite: string; oracle: Oracle; rank: Record<string, number>; listener: Listener; index: number },
): Promise<Participation> {
  const { listener } = opts;
  const rng = createRng(`rater/${opts.index}`);
  const joined = await request.post(opts.invite).send({ consent: true, worker_id: `W-${opts.index}` });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  const token: string = joined.body.token;
  const out: Participation = { listener, token, honestPreferences: 0, heard: [] };
  const state = async () => {
    const res = await request.get(`/listen/s/${token}`).set('Accept', 'application/json');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  assert.equal((await state()).step, 'headphones');

  const answers: number[] = [];
  for (let q = 0; q < 3; q++) {
    const wav = await request
      .get(`/listen/s/${token}/headphones/${q}.wav`)
      .buffer(true)
      .parse(binaryBody as never);
    assert.equal(wav.status, 200);
    answers.push(quietestTone(wav.body, listener === 'loudspeakers' ? 'loudspeakers' : 'headphones'));
    ctx.mock.timers.tick(5000);
  }
  const check = await request.post(`/listen/s/${token}/headphones`).send({ answers });
  assert.equal(check.status, 200);
  assert.equal(check.body.passed, listener !== 'loudspeakers', `${listener}: headphone check`);
  if (listener === 'loudspeakers') {
    assert.equal((await state()).step, 'screened-out');
    return out;
  }

  for (;;) {
    const s = await state();
    if (s.step !== 'trial') break;
    const { trial } = s;
    assert.ok(['ab_naturalness', 'ab_similarity', 'mos', 'similarity'].includes(trial.task), trial.task);
    const heard: Record<string, Clip & { seconds: number }> = {};
    for (const slot of Object.keys(trial.audio)) {
      const audio = await request
        .get(trial.audio[slot])
        .buffer(true)
        .parse(binaryBody as never);
      assert.equal(audio.status, 200);
      // Clips are served padded to one size per trial; what plays is exactly the stored clip.
      const bytes = unpadWav(new Uint8Array(audio.body));
      const clip = opts.oracle.get(sha256(bytes));
      assert.ok(clip, 'the crowd hears exactly the stored stimuli');
      const wav = parseWav(bytes);
      heard[slot] = { ...clip, seconds: wav.samples.length / wav.sampleRate };
      if (slot !== 'ref') out.heard.push({ ...clip, bytes });
    }
    const a = heard.a as Clip & { seconds: number };
    const b = heard.b;
    let answer: string;
    let listenMs = 1000 * Object.values(heard).reduce((sum, h) => sum + h.seconds, 0) + 1500;
    const flip = (x: 'a' | 'b') => (x === 'a' ? 'b' : 'a');
    if (!b) {
      // A rating: the rank sets it (1–5); cheaters give the middle of the scale.
      const rank = opts.rank[a.conditionId] ?? 0;
      answer = listener === 'honest' ? String(Math.min(5, Math.max(1, rank + 1))) : '3';
      if (listener === 'random-fast') listenMs = 400;
    } else if (listener === 'always-left') answer = 'a';
    else if (listener === 'random-fast') {
      answer = rng.next() < 0.5 ? 'a' : 'b';
      listenMs = 400;
    } else if (a.kind === 'trap' || b.kind === 'trap') {
      // The spoken instruction: trap sentence 0 asks for sample A, 1 for sample B.
      const trap = a.kind === 'trap' ? a : b;
      answer = trap.sentenceIndex === 0 ? 'a' : 'b';
    } else if (a.kind === 'degraded' || b.kind === 'degraded') {
      // A gold trial: the real recording against its degraded copy.
      answer = a.kind === 'real' ? 'a' : 'b';
    } else {
      // Naturalness and likeness to the speaker follow the same ranking here.
      const better = (opts.rank[a.conditionId] ?? 0) > (opts.rank[b.conditionId] ?? 0) ? 'a' : 'b';
      answer = rng.next() < 0.9 ? better : flip(better);
      if (trial.task === 'ab_naturalness') out.honestPreferences++;
    }
    ctx.mock.timers.tick(listenMs);
    const vote = await request
      .post(`/listen/s/${token}/trials/${trial.trial_id}/vote`)
      .send({ answer, played_ms: Math.round(listenMs) });
    assert.equal(vote.status, 201, JSON.stringify(vote.body));
  }
  const done = await request.post(`/listen/s/${token}/complete`).send({});
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.match(done.body.completion_code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
  return out;
}

/**
 * The crowd both journeys use: 24 raters in three waves, 19 honest and 5 cheaters of three
 * kinds. The rule counts raters, not votes, and must hold its false-promotion rate at any look,
 * so it needs about fifteen honest raters on the deciding pair (see the README).
 */
export const CROWD_WAVES: Listener[][] = [
  ['honest', 'honest', 'always-left', 'honest', 'honest', 'random-fast', 'honest', 'loudspeakers', 'honest'],
  ['honest', 'random-fast', 'honest', 'honest', 'always-left', 'honest', 'honest'],
  ['honest', 'honest', 'honest', 'honest', 'honest', 'honest', 'honest', 'honest'],
];
export const CROWD_SIZE = CROWD_WAVES.flat().length;
