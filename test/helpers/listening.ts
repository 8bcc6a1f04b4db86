/**
 * Listening tests on a real app and database, with speech made by espeak-ng standing in for
 * rendered checkpoints and for the speaker's real recordings (no XTTS model is run here).
 * Each "checkpoint" speaks at its own rate and pitch, so the clips really differ.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAdaptorServer } from '@hono/node-server';
import supertest from 'supertest';
import { type CrowdLimits, createApp } from '../../api/index.ts';
import { type Checkpoint, createApiKey, findRaterByTokenHash, insertCheckpoint, insertVoice } from '../../db/index.ts';
import { headphoneAnswers, memoryAudioStore } from '../../listening/index.ts';
import { openTestDb } from './db.ts';

const run = promisify(execFile);
const cache = new Map<string, Uint8Array>();

/** espeak-ng speech; cached, since several tests render the same sentences. */
export async function espeak(text: string, options: { voice?: string; speed?: number; pitch?: number } = {}) {
  const key = JSON.stringify([text, options]);
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = await mkdtemp(join(tmpdir(), 'espeak-'));
  try {
    const out = join(dir, 'x.wav');
    await run('espeak-ng', [
      '-v',
      options.voice ?? 'en',
      '-s',
      String(options.speed ?? 175),
      '-p',
      String(options.pitch ?? 50),
      '-w',
      out,
      text,
    ]);
    const bytes = new Uint8Array(await readFile(out));
    cache.set(key, bytes);
    return bytes;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A renderer with the engine's signature: espeak-ng, voiced per checkpoint step. */
export const espeakRenderer = async (checkpoint: Checkpoint, text: string) =>
  espeak(text, { speed: 160 + 10 * ((checkpoint.step ?? 0) % 5), pitch: 40 + 5 * ((checkpoint.step ?? 0) % 4) });

export const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'She sells sea shells by the sea shore.',
  'A stitch in time saves nine.',
  'Every cloud has a silver lining.',
];

export async function listeningTestApp(options: { crowdLimits?: CrowdLimits } = {}) {
  const db = await openTestDb();
  const audio = memoryAudioStore();
  const app = createApp({
    db: db.db,
    limits: { maxJsonBytes: 64 * 1024, maxUploadBytes: 4 * 1024 * 1024 },
    listening: {
      audio,
      renderStimulus: espeakRenderer,
      crowdLimits: options.crowdLimits ?? { joinsPerMinute: 10_000, requestsPerMinute: 100_000 },
    },
  });
  const server = createAdaptorServer({ fetch: app.fetch });
  const request = supertest(server);
  const admin = (await createApiKey(db.db, { name: 'test admin', scope: 'admin' })).token;
  const synth = (await createApiKey(db.db, { name: 'test synth', scope: 'synth' })).token;
  const base = await insertCheckpoint(db.db, {
    name: 'XTTS-v2 base',
    kind: 'base',
    status: 'ready',
    packagePath: '/m/base',
  });
  const ckpts = [
    await insertCheckpoint(db.db, { name: 'run-1', step: 1, status: 'ready', packagePath: '/m/s1' }),
    await insertCheckpoint(db.db, { name: 'run-1', step: 2, status: 'ready', packagePath: '/m/s2' }),
  ];
  const { voice } = await insertVoice(db.db, { name: 'narrator', language: 'en', checkpointId: base.id }, []);
  return {
    db,
    app,
    server,
    request,
    audio,
    voice,
    base,
    checkpoints: ckpts,
    tokens: { admin, synth },
    auth: (token: string) => ({ Authorization: `Bearer ${token}` }),
    close: async () => {
      server.close();
      await db.dispose();
    },
  };
}

export type ListeningTestApp = Awaited<ReturnType<typeof listeningTestApp>>;

/** Creates a test, uploads "real recordings", renders everything and opens it. */
export async function openedTest(t: ListeningTestApp, body: Record<string, unknown> = {}) {
  const created = await t.request
    .post('/v1/listening/tests')
    .set(t.auth(t.tokens.admin))
    .send({
      voice_id: t.voice.id,
      name: 'narrator: run-1',
      checkpoint_ids: t.checkpoints.map((c) => c.id),
      base_checkpoint_id: t.base.id,
      sentences: SENTENCES.map((text) => ({ text })),
      trials_per_rater: { ab_naturalness: 6, mos: 2, similarity: 1, ab_similarity: 1 },
      gold_per_rater: 2,
      trap_per_rater: 1,
      ...body,
    });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  const texts = (body.sentences as { text: string }[] | undefined)?.map((x) => x.text) ?? SENTENCES;
  for (const [i, text] of texts.entries()) {
    const wav = await espeak(text, { voice: 'en-us', speed: 150 });
    const res = await t.request
      .put(`/v1/listening/tests/${created.body.id}/recordings/${i}`)
      .set(t.auth(t.tokens.admin))
      .attach('audio', Buffer.from(wav), 'recording.wav');
    if (res.status !== 200) throw new Error(`recording: ${res.status} ${JSON.stringify(res.body)}`);
  }
  for (;;) {
    const r = await t.request
      .post(`/v1/listening/tests/${created.body.id}/render`)
      .set(t.auth(t.tokens.admin))
      .send({ max: 50 });
    if (r.status !== 200) throw new Error(`render: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.remaining === 0) break;
  }
  const opened = await t.request.post(`/v1/listening/tests/${created.body.id}/open`).set(t.auth(t.tokens.admin));
  if (opened.status !== 200) throw new Error(`open: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened.body as {
    id: string;
    invite_url: string;
    conditions: { id: string; kind: string; checkpoint_id: string | null }[];
  };
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Joins through the invitation (JSON), and passes the headphone check unless told not to. */
export async function joinAsRater(
  t: ListeningTestApp,
  inviteUrl: string,
  options: { workerId?: string; passHeadphones?: boolean } = {},
) {
  const res = await t.request
    .post(inviteUrl)
    .send({ consent: true, ...(options.workerId ? { worker_id: options.workerId } : {}) });
  if (res.status !== 201) throw new Error(`join: ${res.status} ${JSON.stringify(res.body)}`);
  const token: string = res.body.token;
  const rater = await findRaterByTokenHash(t.db.db, hashToken(token));
  if (!rater) throw new Error('rater not stored');
  if (options.passHeadphones ?? true) {
    const hp = await t.request.post(`/listen/s/${token}/headphones`).send({ answers: headphoneAnswers(rater.id) });
    if (hp.status !== 200 || !hp.body.passed) throw new Error(`headphones: ${hp.status} ${JSON.stringify(hp.body)}`);
  }
  return { token, raterId: rater.id };
}
