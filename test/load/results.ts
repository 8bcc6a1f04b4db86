/**
 * `npm run bench:results`: how fast a listening test's report and results answer at 10,000 A/B
 * votes, through the real HTTP stack and database (PGlite, or PostgreSQL with DATABASE_URL).
 *
 * A test with two checkpoints, the base model and real recordings of 20 sentences (espeak-ng
 * speech) gets 520 completed raters, each with the production default session planned by the
 * service (20 naturalness A/B, 10 similarity A/B, 4 MOS, 4 similarity ratings, 6 gold, 2 traps),
 * answered by a scripted crowd that prefers the second checkpoint 70 % of the time, stored
 * directly. Then the report page, the JSON results and the CSV export are each fetched several
 * times; the printed figures are medians, beside the time to read the votes alone (the
 * baseline that no statistics can beat).
 */
import { performance } from 'node:perf_hooks';
import { eq } from 'drizzle-orm';
import { listConditions, listStimuli, listVoteRecords, schema } from '../../db/index.ts';
import { createRng, getTest, planSession } from '../../listening/index.ts';
import { listeningTestApp, openedTest } from '../helpers/listening.ts';

const RATERS = 520;
const SENTENCES = Array.from({ length: 20 }, (_, i) => `Sentence number ${i + 1} of the benchmark, read aloud.`);

const t = await listeningTestApp();
try {
  const opened = await openedTest(t, {
    name: 'bench',
    sentences: SENTENCES.map((text, seed) => ({ text, seed })),
    trials_per_rater: { ab_naturalness: 20, ab_similarity: 10, mos: 4, similarity: 4 },
    gold_per_rater: 6,
    trap_per_rater: 2,
  });
  const test = await getTest(t.db.db, opened.id);
  const [conditions, stimuli] = await Promise.all([listConditions(t.db.db, test.id), listStimuli(t.db.db, test.id)]);
  const conditionOf = new Map(stimuli.map((s) => [s.id, s.conditionId]));
  const better = conditions.find((c) => c.checkpointId === t.checkpoints[1]?.id)?.id;
  const rng = createRng('bench-results');
  const started = performance.now();
  let abVotes = 0;
  const addRater = async (r: number) => {
    const [rater] = await t.db.db
      .insert(schema.raters)
      .values({ testId: test.id, tokenHash: `bench-${r}`, consentedAt: new Date(), headphoneCheckPassedAt: new Date() })
      .returning();
    if (!rater) throw new Error('rater');
    const at = new Date(Date.now() - (RATERS - r) * 30_000);
    const plan = planSession({ testId: test.id, raterId: rater.id, config: test.config as never, conditions, stimuli });
    const rows = await t.db.db
      .insert(schema.trials)
      .values(plan.trials.map((x) => ({ ...x, servedAt: new Date() })))
      .returning();
    const votes = rows.map((trial) => {
      let answer: string;
      if (trial.role !== 'normal') answer = trial.expected ?? 'a';
      else if (trial.stimulusB) {
        const a = conditionOf.get(trial.stimulusA);
        const b = conditionOf.get(trial.stimulusB);
        const pA = a === better ? 0.7 : b === better ? 0.3 : 0.5;
        answer = rng.next() < pA ? 'a' : 'b';
        if (trial.kind === 'ab_naturalness') abVotes++;
      } else answer = String(2 + Math.floor(rng.next() * 3));
      return {
        trialId: trial.id,
        raterId: rater.id,
        answer,
        playedMs: 9000,
        elapsedMs: 9000 + Math.floor(rng.next() * 4000),
        // A real test collects its votes over hours: one session every 30 s up to now.
        createdAt: at,
      };
    });
    await t.db.db.insert(schema.votes).values(votes);
    await t.db.db
      .update(schema.raters)
      .set({ completedAt: at, completionCode: `BENCH${r}` })
      .where(eq(schema.raters.id, rater.id));
  };
  for (let r = 0; r < RATERS; r++) await addRater(r);
  console.log(
    `stored ${RATERS} raters' sessions (${abVotes} naturalness A/B votes) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
  const time = async (label: string, fn: () => Promise<unknown>, runs = 5) => {
    const t0 = performance.now();
    await fn();
    const first = performance.now() - t0;
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t1 = performance.now();
      await fn();
      ms.push(performance.now() - t1);
    }
    console.log(
      `${label.padEnd(52)} first ${first.toFixed(0)} ms, then median ${median(ms).toFixed(0)} ms (min ${Math.min(...ms).toFixed(0)}, max ${Math.max(...ms).toFixed(0)})`,
    );
  };
  const admin = t.auth(t.tokens.admin);
  const base = `/v1/listening/tests/${test.id}`;
  await time('baseline: read every vote from the database', () => listVoteRecords(t.db.db, { testId: test.id }));
  await time('GET …/report (the owner page)', async () => {
    const res = await t.request.get(`${base}/report`).set(admin);
    if (res.status !== 200) throw new Error(`report ${res.status}`);
  });
  await time('GET …/results (JSON)', async () => {
    const res = await t.request.get(`${base}/results`).set(admin);
    if (res.status !== 200) throw new Error(`results ${res.status}`);
  });
  await time('GET …/results.csv?table=votes', async () => {
    const res = await t.request.get(`${base}/results.csv?table=votes`).set(admin);
    if (res.status !== 200) throw new Error(`csv ${res.status}`);
  });
  // A live test: one more rater completes, and the owner reloads the page.
  await addRater(RATERS);
  await time(
    'GET …/report after one more rater completed',
    async () => {
      const res = await t.request.get(`${base}/report`).set(admin);
      if (res.status !== 200) throw new Error(`report ${res.status}`);
    },
    1,
  );
  console.log(
    'target: the results page answers in under 300 ms at 10,000 A/B votes. The first request reads every vote; later ones read only the last minute of votes and reuse the statistics until a vote or a rater changes.',
  );
} finally {
  await t.close();
}
