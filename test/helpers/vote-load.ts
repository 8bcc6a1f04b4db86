/**
 * Vote load through the real HTTP stack: an open listening test with many raters, and clients
 * that vote the way the crowd page does (the same answer again after a 503 or a dropped
 * connection, until the server acknowledges it). Shared by `npm run bench:votes` and the
 * database-outage tests, which both end by comparing what was acknowledged with what is stored.
 *
 * The clients are plain fetch loops rather than autocannon: autocannon cannot send a failed
 * request again with the same body, and resending exactly that is what is being tested.
 */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { eq, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import { createApp, type HttpMetrics } from '../../api/index.ts';
import { createApiKey, findRaterByTokenHash, insertCheckpoint, insertVoice, schema } from '../../db/index.ts';
import { encodeWav } from '../../inference/index.ts';
import { type AudioStore, headphoneAnswers, memoryAudioStore } from '../../listening/index.ts';
import type { TestDb } from './db.ts';
import { hashToken } from './listening.ts';

const tone = (hz: number) => {
  const s = new Float32Array(8000);
  for (let i = 0; i < s.length; i++) s[i] = 0.2 * Math.sin((2 * Math.PI * hz * i) / 16000);
  return encodeWav(s, 16000);
};

/** The app on `db`, listening on a free port, with an open A/B test and `raters` raters past the headphone check. */
export async function voteLoadApp(
  db: TestDb,
  opts: {
    raters: number;
    votesPerRater: number;
    sentences?: number;
    logger?: Logger;
    metrics?: HttpMetrics;
    audio?: AudioStore;
  },
) {
  const app = createApp({
    db: db.db,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    listening: {
      audio: opts.audio ?? memoryAudioStore(),
      renderStimulus: async (checkpoint) => tone(200 + 50 * (checkpoint.step ?? 0)),
      crowdLimits: { joinsPerMinute: 1_000_000, requestsPerMinute: 1_000_000 },
    },
  });
  const server = createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const adminToken = (await createApiKey(db.db, { name: 'load', scope: 'admin' })).token;
  const admin = { Authorization: `Bearer ${adminToken}` };
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
  const { voice } = await insertVoice(db.db, { name: 'load', language: 'en', checkpointId: baseCkpt.id }, []);
  const test = await call(
    'POST',
    '/v1/listening/tests',
    {
      voice_id: voice.id,
      name: 'load',
      checkpoint_ids: ckpts.map((c) => c.id),
      base_checkpoint_id: baseCkpt.id,
      sentences: Array.from({ length: opts.sentences ?? 60 }, (_, i) => ({ text: `Sentence ${i}.` })),
      trials_per_rater: { ab_naturalness: opts.votesPerRater, ab_similarity: 0, mos: 0, similarity: 0 },
      gold_per_rater: 0,
      trap_per_rater: 0,
    },
    admin,
  );
  while ((await call('POST', `/v1/listening/tests/${test.id}/render`, { max: 500 }, admin)).remaining > 0);
  await call('POST', `/v1/listening/tests/${test.id}/open`, undefined, admin);
  const tokens: string[] = [];
  for (let i = 0; i < opts.raters; i++) {
    const { token } = await call('POST', test.invite_url, { consent: true });
    const rater = await findRaterByTokenHash(db.db, hashToken(token));
    await call('POST', `/listen/s/${token}/headphones`, { answers: headphoneAnswers(rater?.id ?? '') });
    tokens.push(token);
  }
  return {
    app,
    base,
    testId: test.id as string,
    inviteUrl: test.invite_url as string,
    adminToken,
    tokens,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type VoteLoad = {
  /** trial id → the vote id the server acknowledged for it (201, or 200 for a retry it had stored). */
  acks: Map<string, string>;
  /** A retry was acknowledged with another vote id than an earlier acknowledgement of the same trial. */
  conflictingAcks: number;
  /** Answers refused for good (a 4xx other than 429): none are expected. */
  refused: Array<{ status: number; code: string | undefined }>;
  /** 503s (with their codes) and failed connections that were retried. */
  retried503: Record<string, number>;
  networkErrors: number;
  requests: number;
  seconds: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every rater answers every trial, all raters at once. `onAck` sees the running count of
 * acknowledged votes (to interrupt the database at a chosen point).
 */
export async function voteUntilDone(
  base: string,
  tokens: string[],
  opts: { onAck?: (acknowledged: number) => void; maxWaitMs?: number } = {},
): Promise<VoteLoad> {
  const out: VoteLoad = {
    acks: new Map(),
    conflictingAcks: 0,
    refused: [],
    retried503: {},
    networkErrors: 0,
    requests: 0,
    seconds: 0,
  };
  const started = performance.now();
  const deadline = Date.now() + (opts.maxWaitMs ?? 120_000);
  /** One request, sent again after a 503 or a network error until it gets another answer. */
  // biome-ignore lint/suspicious/noExplicitAny: response bodies of several shapes, checked by use
  const send = async (path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> => {
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) throw new Error(`no answer to ${path.replace(/lrt_[\w-]+/, 'lrt_…')} in time`);
      out.requests++;
      try {
        const res = await fetch(base + path, init);
        // biome-ignore lint/suspicious/noExplicitAny: response bodies of several shapes, checked by use
        const body: any = await res.json().catch(() => ({}));
        if (res.status !== 503) return { status: res.status, body };
        const code = String(body?.code);
        out.retried503[code] = (out.retried503[code] ?? 0) + 1;
        const after = Number(res.headers.get('retry-after') ?? '1');
        await sleep(Math.min(1000 * after, 100 * 2 ** Math.min(attempt, 4)));
      } catch {
        out.networkErrors++;
        await sleep(100 * 2 ** Math.min(attempt, 4));
      }
    }
  };
  await Promise.all(
    tokens.map(async (token, r) => {
      for (let n = 0; ; n++) {
        const state = await send(`/listen/s/${token}`, { headers: { accept: 'application/json' } });
        if (state.status !== 200) throw new Error(`session state: ${state.status} ${JSON.stringify(state.body)}`);
        if (state.body.step !== 'trial') return;
        const trialId: string = state.body.trial.trial_id;
        const answer = (r + n) % 3 === 0 ? 'b' : 'a';
        const res = await send(`/listen/s/${token}/trials/${trialId}/vote`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ answer, played_ms: 1000 }),
        });
        if (res.status === 201 || res.status === 200) {
          const before = out.acks.get(trialId);
          if (before !== undefined && before !== res.body.vote_id) out.conflictingAcks++;
          out.acks.set(trialId, res.body.vote_id);
          opts.onAck?.(out.acks.size);
        } else {
          out.refused.push({ status: res.status, code: res.body?.code });
          return;
        }
      }
    }),
  );
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

/** What the database holds against what was acknowledged: every acknowledged vote exactly once, nothing else. */
export async function compareStored(db: TestDb, testId: string, acks: Map<string, string>) {
  const trialIds = (
    await db.db.select({ id: schema.trials.id }).from(schema.trials).where(eq(schema.trials.testId, testId))
  ).map((t) => t.id);
  const rows = trialIds.length
    ? await db.db
        .select({ id: schema.votes.id, trialId: schema.votes.trialId })
        .from(schema.votes)
        .where(inArray(schema.votes.trialId, trialIds))
    : [];
  const perTrial = new Map<string, string[]>();
  for (const v of rows) perTrial.set(v.trialId, [...(perTrial.get(v.trialId) ?? []), v.id]);
  let missing = 0;
  let duplicates = 0;
  for (const [trialId, voteId] of acks) {
    const stored = perTrial.get(trialId) ?? [];
    if (!stored.includes(voteId)) missing++;
  }
  for (const ids of perTrial.values()) duplicates += ids.length - 1;
  const unacknowledged = [...perTrial.keys()].filter((t) => !acks.has(t)).length;
  return { acknowledged: acks.size, stored: rows.length, missing, duplicates, unacknowledged };
}

/** Polls /readyz and records how long it said "not ready" and whether it said "ready" again. */
export function watchReadiness(base: string, everyMs = 50) {
  let stopped = false;
  let notReadyMs = 0;
  let sawNotReady = false;
  let lastOk = true;
  let codes = new Set<number>();
  const loop = (async () => {
    let last = performance.now();
    while (!stopped) {
      const status = await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      codes.add(status);
      const now = performance.now();
      if (!lastOk) notReadyMs += now - last;
      lastOk = status === 200;
      if (!lastOk) sawNotReady = true;
      last = now;
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      const result = { sawNotReady, notReadyMs: Math.round(notReadyMs), readyAtEnd: lastOk, statuses: [...codes] };
      codes = new Set();
      return result;
    },
  };
}
