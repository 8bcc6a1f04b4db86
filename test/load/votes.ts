/**
 * Load run of vote submission: many raters at once, each fetching its next trial and voting,
 * through the real HTTP stack and database. Ends by checking that the votes stored equal the
 * votes the server acknowledged (201), and prints the rate.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:votes
 *
 * Without DATABASE_URL it runs on embedded PGlite (one connection; much slower). Stimuli are
 * short generated tones: the audio plays no part in voting, and no model is run.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { eq } from 'drizzle-orm';
import { createApp } from '../../api/index.ts';
import { createApiKey, insertCheckpoint, insertVoice, schema } from '../../db/index.ts';
import { encodeWav } from '../../inference/index.ts';
import { headphoneAnswers, memoryAudioStore } from '../../listening/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { hashToken } from '../helpers/listening.ts';

const RATERS = 40;
const CONNECTIONS = 40;
const VOTES_PER_RATER = 80;
const SENTENCES = 60;

const tone = (hz: number) => {
  const s = new Float32Array(8000);
  for (let i = 0; i < s.length; i++) s[i] = 0.2 * Math.sin((2 * Math.PI * hz * i) / 16000);
  return encodeWav(s, 16000);
};

const db = await openTestDb();
const app = createApp({
  db: db.db,
  listening: {
    audio: memoryAudioStore(),
    renderStimulus: async (checkpoint) => tone(200 + 50 * (checkpoint.step ?? 0)),
    crowdLimits: { joinsPerMinute: 1_000_000, requestsPerMinute: 1_000_000 },
  },
});
const server = createAdaptorServer({ fetch: app.fetch });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const admin = { Authorization: `Bearer ${(await createApiKey(db.db, { name: 'bench', scope: 'admin' })).token}` };
const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: response bodies of several shapes, checked by use
  const json: any = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};

const baseCkpt = await insertCheckpoint(db.db, { name: 'base', kind: 'base', status: 'ready' });
const ckpts = await Promise.all(
  [1, 2, 3].map((step) => insertCheckpoint(db.db, { name: 'run', step, status: 'ready' })),
);
const { voice } = await insertVoice(db.db, { name: 'bench', language: 'en', checkpointId: baseCkpt.id }, []);
const test = await call(
  'POST',
  '/v1/listening/tests',
  {
    voice_id: voice.id,
    name: 'bench',
    checkpoint_ids: ckpts.map((c) => c.id),
    base_checkpoint_id: baseCkpt.id,
    sentences: Array.from({ length: SENTENCES }, (_, i) => ({ text: `Sentence ${i}.` })),
    trials_per_rater: { ab_naturalness: VOTES_PER_RATER, mos: 0 },
    gold_per_rater: 0,
    trap_per_rater: 0,
  },
  admin,
);
while ((await call('POST', `/v1/listening/tests/${test.id}/render`, { max: 500 }, admin)).remaining > 0);
await call('POST', `/v1/listening/tests/${test.id}/open`, undefined, admin);

const tokens: string[] = [];
for (let i = 0; i < RATERS; i++) {
  const { token } = await call('POST', test.invite_url, { consent: true });
  const [rater] = await db.db
    .select()
    .from(schema.raters)
    .where(eq(schema.raters.tokenHash, hashToken(token)));
  await call('POST', `/listen/s/${token}/headphones`, { answers: headphoneAnswers(rater?.id ?? '') });
  tokens.push(token);
}

let acknowledged = 0;
let duplicates = 0;
let failed = 0;
let nextRater = 0;
const started = performance.now();
const result = await autocannon({
  url: base,
  connections: CONNECTIONS,
  amount: 2 * RATERS * (VOTES_PER_RATER - 5),
  requests: [
    {
      method: 'GET',
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        context.token ??= tokens[nextRater++ % tokens.length];
        return { ...req, path: `/listen/s/${context.token}`, headers: { accept: 'application/json' } };
      },
      onResponse: (_status: number, body: string, context: Record<string, unknown>) => {
        const state = JSON.parse(body);
        context.trial = state.step === 'trial' ? state.trial : undefined;
      },
    },
    {
      method: 'POST',
      setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
        const trial = context.trial as { trial_id: string } | undefined;
        return {
          ...req,
          path: `/listen/s/${context.token}/trials/${trial?.trial_id ?? '00000000-0000-4000-8000-000000000000'}/vote`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ answer: Math.random() < 0.5 ? 'a' : 'b', played_ms: 1000 }),
        };
      },
      onResponse: (status: number) => {
        if (status === 201) acknowledged++;
        else if (status === 200) duplicates++;
        else failed++;
      },
    },
  ],
});
const seconds = (performance.now() - started) / 1000;
const stored = (await db.db.select().from(schema.votes)).length;
console.log(
  JSON.stringify(
    {
      database: db.url ? 'postgres' : 'pglite',
      connections: CONNECTIONS,
      raters: RATERS,
      acknowledged_votes: acknowledged,
      duplicate_acks: duplicates,
      refused: failed,
      stored_votes: stored,
      seconds: Number(seconds.toFixed(2)),
      votes_per_second: Number((acknowledged / seconds).toFixed(1)),
      requests_per_second: result.requests.average,
      latency_ms: { p50: result.latency.p50, p99: result.latency.p99 },
      errors: result.errors,
      non_2xx: result.non2xx,
    },
    null,
    2,
  ),
);
server.close();
await db.dispose();
assert.equal(stored, acknowledged, 'every acknowledged vote is stored, and nothing else');
assert.ok(acknowledged > 0, 'some votes went through');
