/**
 * What a hostile or curious rater can do with the crowd pages: load anything inline or from
 * elsewhere (the Content-Security-Policy), tell the clips of a trial apart by their bytes or
 * headers, flood the API from one address, or guess, share or reuse a completion code.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { listStimuli, schema } from '../../../db/index.ts';
import { decodeAudio } from '../../../inference/index.ts';
import { PAD_BLOCK, unpadWav } from '../../../listening/index.ts';
import { joinAsRater, type ListeningTestApp, listeningTestApp, openedTest } from '../../../test/helpers/listening.ts';
import { binaryBody } from '../../../test/helpers/speech.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('crowd pages against a curious rater', () => {
  let t: ListeningTestApp;
  let test: Awaited<ReturnType<typeof openedTest>>;
  before(async () => {
    t = await listeningTestApp();
    test = await openedTest(t);
  });
  after(() => t.close());

  const state = (token: string) => t.request.get(`/listen/s/${token}`).set('Accept', 'application/json');
  const page = (path: string) => t.request.get(path).set('Accept', 'text/html');
  const answerOf = (task: string) => (task.startsWith('ab_') ? 'a' : '4');

  it('every page has a CSP without inline code, and loads only its own served files', async () => {
    const { token } = await joinAsRater(t, test.invite_url, { passHeadphones: false });
    const pages = [await page(test.invite_url), await page(`/listen/s/${token}`)];
    const other = await joinAsRater(t, test.invite_url);
    pages.push(await page(`/listen/s/${other.token}`)); // a trial
    const urls = new Set<string>();
    for (const res of pages) {
      assert.equal(res.status, 200);
      const csp = res.headers['content-security-policy'] ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'scripts only from the origin, none inline');
      assert.match(csp, /style-src 'self'(;|$)/, 'styles only from the origin, none inline');
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      const html = res.text;
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
      assert.doesNotMatch(html, /<style/i, 'no style element');
      assert.doesNotMatch(html, /\sstyle=/i, 'no style attribute');
      assert.doesNotMatch(html, /\son[a-z]+=/i, 'no event-handler attribute');
      assert.doesNotMatch(html, /(src|href|action)="(https?:)?\/\//i, 'nothing from another origin');
      for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) urls.add(m[1] as string);
    }
    const assets = [...urls].filter((u) => u.startsWith('/listen/assets/'));
    assert.equal(assets.length, 2, `one script and one stylesheet: ${[...urls].join(', ')}`);
    for (const u of assets) {
      const res = await t.request.get(u);
      assert.equal(res.status, 200, u);
      assert.match(res.headers['content-type'] ?? '', u.endsWith('.js') ? /javascript/ : /text\/css/);
      assert.match(res.headers['cache-control'] ?? '', /immutable/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    assert.equal((await t.request.get('/listen/assets/player-000000000000.js')).status, 404);
  });

  it('serves the clips of a trial at one size with the same headers; what plays is the stored clip', async () => {
    const { token } = await joinAsRater(t, test.invite_url);
    const stored = new Map((await listStimuli(t.db.db, test.id)).map((s) => [s.sha256, s]));
    let trials = 0;
    let differingClips = 0;
    const rates = new Set<number>();
    for (;;) {
      const s = (await state(token)).body;
      if (s.step !== 'trial') break;
      const served = [];
      for (const slot of s.trial.slots as string[]) {
        // The same work whichever clip is asked for: every clip of the trial is read each time.
        let reads = 0;
        const get = t.audio.get;
        t.audio.get = (key) => {
          reads++;
          return get(key);
        };
        const res = await t.request
          .get(s.trial.audio[slot])
          .buffer(true)
          .parse(binaryBody as never);
        t.audio.get = get;
        assert.equal(res.status, 200);
        assert.equal(reads, s.trial.slots.length, 'every slot read for each clip served');
        const body = new Uint8Array(res.body);
        const clip = unpadWav(body);
        rates.add(new DataView(clip.buffer, clip.byteOffset).getUint32(24, true));
        assert.ok(stored.has(sha256(clip)), 'the padding comes off to exactly a stored stimulus');
        const decoded = await decodeAudio(body);
        assert.ok(decoded.samples.length > 0, 'a padded clip decodes like any WAV');
        const { date: _d, 'x-request-id': _r, ...headers } = res.headers;
        served.push({ length: body.length, clip: clip.length, headers });
      }
      const first = served[0] as (typeof served)[0];
      for (const other of served) {
        assert.equal(other.length, first.length, 'one byte length per trial');
        assert.deepEqual(other.headers, first.headers, 'identical headers');
        if (other.clip !== first.clip) differingClips++;
      }
      assert.equal(first.length % PAD_BLOCK, 0);
      assert.equal(first.headers['content-length'], String(first.length));
      assert.equal(first.headers.etag, undefined);
      assert.equal(first.headers['last-modified'], undefined);
      assert.equal(first.headers['content-disposition'], undefined, 'no file name');
      await t.request
        .post(`/listen/s/${token}/trials/${s.trial.trial_id}/vote`)
        .send({ answer: answerOf(s.trial.task) })
        .expect(201);
      trials++;
    }
    assert.ok(trials > 5);
    assert.ok(differingClips > 0, 'the clips really differed in size before padding');
    // Real recordings (espeak-ng at 22.05 kHz here) and renders share one rate: no header tells them apart.
    assert.deepEqual([...rates], [24000]);
    const wrong = await t.request.get(`/listen/audio/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/a`);
    assert.equal(wrong.status, 404);
  });

  it('completion codes: 100 random bits, unique, redeemed once, and only by their own worker', async () => {
    const finish = async (workerId: string) => {
      const { token } = await joinAsRater(t, test.invite_url, { workerId });
      for (;;) {
        const s = (await state(token)).body;
        if (s.step !== 'trial') break;
        await t.request
          .post(`/listen/s/${token}/trials/${s.trial.trial_id}/vote`)
          .send({ answer: answerOf(s.trial.task) })
          .expect(201);
      }
      const done = await t.request.post(`/listen/s/${token}/complete`).send({});
      assert.equal(done.status, 200);
      return done.body.completion_code as string;
    };
    const a = await finish('W-code-a');
    const b = await finish('W-code-b');
    for (const code of [a, b]) assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}$/, 'Crockford base32, 20 symbols');
    assert.notEqual(a, b);
    const redeem = (body: Record<string, unknown>, key = t.tokens.admin) =>
      t.request.post(`/v1/listening/tests/${test.id}/completion-codes/redeem`).set(t.auth(key)).send(body);

    const anonymous = t.request.post(`/v1/listening/tests/${test.id}/completion-codes/redeem`);
    assert.equal((await anonymous.send({ code: a })).status, 401);
    assert.equal((await redeem({ code: a }, t.tokens.synth)).status, 403);
    const wrongWorker = await redeem({ code: a, worker_id: 'W-code-b' });
    assert.equal(wrongWorker.status, 404, "another worker's code is refused");
    assert.equal(wrongWorker.body.code, 'COMPLETION_CODE_UNKNOWN');
    const guessed = await redeem({ code: 'A'.repeat(20) });
    assert.equal(guessed.status, 404);
    // Typed back by a person: lower case, dashes.
    const typed = `${a.slice(0, 10).toLowerCase()}-${a.slice(10)}`;
    const first = await redeem({ code: typed, worker_id: 'W-code-a' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.worker_id, 'W-code-a');
    const reused = await redeem({ code: a, worker_id: 'W-code-a' });
    assert.equal(reused.status, 409);
    assert.equal(reused.body.code, 'COMPLETION_CODE_USED');
    const [row] = await t.db.db.select().from(schema.raters).where(eq(schema.raters.completionCode, a));
    assert.ok(row?.completionRedeemedAt, 'the redemption is stored');
    assert.equal((await redeem({ code: b })).status, 200, 'without a worker id, any unredeemed code of the test');
    assert.equal((await redeem({ code: '' })).status, 400);
  });
});

describe('crowd rate limits per address', () => {
  it('limits every /listen request per client address, whatever the token; the page files are exempt', async () => {
    const t = await listeningTestApp({
      crowdLimits: { joinsPerMinute: 100, requestsPerMinute: 100, addressRequestsPerMinute: 6 },
    });
    try {
      const test = await openedTest(t, { name: 'address limits' });
      const a = await t.request.post(test.invite_url).send({ consent: true }); // 1
      const b = await t.request.post(test.invite_url).send({ consent: true }); // 2
      const statuses: number[] = [];
      for (const token of [a.body.token, b.body.token, a.body.token, b.body.token, a.body.token]) {
        statuses.push((await t.request.get(`/listen/s/${token}`).set('Accept', 'application/json')).status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 429], 'two raters, one address: the address runs out');
      const limited = await t.request.get(`/listen/audio/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/a`);
      assert.equal(limited.status, 429, 'audio too');
      assert.equal(limited.body.code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      const html = await t.request.get(test.invite_url);
      const asset = /src="([^"]+)"|href="(\/listen\/assets\/[^"]+)"/.exec(html.text);
      const path = asset?.[1] ?? asset?.[2];
      if (path) assert.equal((await t.request.get(path)).status, 200, 'page files are not limited');
    } finally {
      await t.close();
    }
  });
});
