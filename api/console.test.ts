/**
 * Owners' sign-in and console: redirects without a session, the session cookie's attributes,
 * CSRF refusals (token and Origin), session fixation, sign-out, revoked keys, rater tokens,
 * and the console's key, test and promotion forms.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import QRCode from 'qrcode';
import type { Response } from 'supertest';
import { insertCheckpoint, listApiKeys, schema, updateRun } from '../db/index.ts';
import { localStorage } from '../infra/index.ts';
import { headphoneAnswers } from '../listening/index.ts';
import { espeak, joinAsRater, type ListeningTestApp, listeningTestApp, openedTest } from '../test/helpers/listening.ts';
import { safeNext } from './sessions.ts';

const html = { Accept: 'text/html' };
const setCookies = (res: Response): string[] => {
  const raw = res.headers['set-cookie'] as unknown;
  return Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
};
const cookieValue = (res: Response, name: string) =>
  setCookies(res)
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0]
    ?.slice(name.length + 1);
const csrfIn = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '';

describe('where sign-in goes next', () => {
  it('only to a path on this site', () => {
    for (const ok of ['/console', '/console/tests/1?notice=x', '/datasets/a%2Fb']) assert.equal(safeNext(ok), ok);
    for (const bad of [
      'https://evil.example/',
      '//evil.example',
      '/\\evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      'javascript:alert(1)',
      '/a b',
      'console',
      undefined,
      42,
    ]) {
      assert.equal(safeNext(bad), '/console', String(bad));
    }
  });
});

describe('owner sign-in and console', () => {
  let t: ListeningTestApp;
  // supertest listens on a new port for each request: the form posts name one host in Host and Origin.
  const site = { Host: 'studio.test', Origin: 'http://studio.test' };
  let testId = '';

  before(async () => {
    t = await listeningTestApp();
    // One sentence keeps the rendering short; the pages need an open test, not a large one.
    testId = (await openedTest(t, { sentences: [{ text: 'The owner reads this sentence.' }] })).id;
  });
  after(() => t.close());

  /** Signs in through the form like a browser, optionally bringing a session cookie along. */
  async function signIn(
    options: { key?: string; bring?: string; next?: string; headers?: Record<string, string> } = {},
  ) {
    const form = await t.request
      .get(`/sign-in?next=${encodeURIComponent(options.next ?? '/console')}`)
      .set({ ...html, ...options.headers });
    assert.equal(form.status, 200);
    const signin =
      setCookies(form)
        .find((c) => /xvs_signin=/.test(c))
        ?.split(';')[0] ?? '';
    const res = await t.request
      .post('/sign-in')
      .set({ ...html, ...site, ...options.headers })
      .set('Cookie', [signin, options.bring].filter(Boolean).join('; '))
      .type('form')
      .send({ _csrf: csrfIn(form.text), key: options.key ?? t.tokens.admin, next: options.next ?? '/console' });
    return { res, session: cookieValue(res, 'xvs_session') ?? '' };
  }
  const page = (path: string, session: string) => t.request.get(path).set(html).set('Cookie', `xvs_session=${session}`);
  /** Posts a form from the studio's own site, as the browser signed in with `session` does. */
  const postForm = (path: string, session: string, body: Record<string, string>) =>
    t.request
      .post(path)
      .set({ ...html, ...site })
      .set('Cookie', `xvs_session=${session}`)
      .type('form')
      .send(body);

  it('sends a browser without a session to sign in, and a program gets 401', async () => {
    for (const path of [
      '/console',
      '/console/keys',
      '/console/voices',
      '/console/datasets',
      '/console/tests',
      `/console/tests/${testId}`,
      `/console/tests/${testId}/progress`,
      '/console/voices/00000000-0000-4000-8000-000000000000',
      `/v1/listening/tests/${testId}/report`,
      '/datasets/00000000-0000-4000-8000-000000000000',
      '/training-runs/00000000-0000-4000-8000-000000000000',
      '/training-runs/00000000-0000-4000-8000-000000000000/test',
    ]) {
      const res = await t.request.get(path).set(html);
      assert.equal(res.status, 303, path);
      assert.equal(res.headers.location, `/sign-in?next=${encodeURIComponent(path)}`);
    }
    const json = await t.request.get('/console/keys');
    assert.equal(json.status, 401);
    assert.equal(json.body.code, 'UNAUTHORIZED');
    const api = await t.request.get(`/v1/listening/tests/${testId}/report`);
    assert.equal(api.status, 401);
  });

  it('signs in with an admin key: a fresh HttpOnly, SameSite=Strict session that opens every owner page', async () => {
    const { res, session } = await signIn({ next: `/console/tests/${testId}` });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/console/tests/${testId}`);
    const cookie = setCookies(res).find((c) => c.startsWith('xvs_session='));
    assert.match(cookie ?? '', /HttpOnly/);
    assert.match(cookie ?? '', /SameSite=Strict/);
    assert.match(cookie ?? '', /Path=\//);
    assert.doesNotMatch(cookie ?? '', /Secure/, 'no Secure flag over plain http');
    for (const path of [
      '/console',
      '/console/keys',
      '/console/voices',
      '/console/datasets',
      '/console/tests',
      `/console/tests/${testId}`,
    ]) {
      const res = await page(path, session);
      assert.equal(res.status, 200, path);
      assert.match(res.headers['content-security-policy'] ?? '', /script-src 'self'/);
      assert.doesNotMatch(res.text, /<script>/, `${path} has no inline script`);
    }
    const report = await page(`/v1/listening/tests/${testId}/report`, session);
    assert.equal(report.status, 200);
    assert.match(report.headers['content-security-policy'] ?? '', /default-src 'none'/);
    assert.doesNotMatch(report.headers['content-security-policy'] ?? '', /script-src/, 'no script allowed at all');
    const testPage = await page(`/console/tests/${testId}`, session);
    assert.match(testPage.text, /\/listen\/i\//, 'the invitation link');
    assert.match(testPage.text, /votes/);
    assert.match(testPage.text, /aria-label="QR code of the invitation link"><svg [^>]*viewBox/);
    assert.match(testPage.text, /action="\/console\/tests\/[\w-]+\/close"/, 'an open test offers closing');
    // The script's requests work with the cookie as well.
    assert.equal((await t.request.get('/v1/keys').set('Cookie', `xvs_session=${session}`)).status, 200);
  });

  it('behind https the cookie is Secure and __Host- named', async () => {
    const { res } = await signIn({ headers: { 'X-Forwarded-Proto': 'https' } });
    assert.equal(res.status, 303);
    const cookie = setCookies(res).find((c) => c.startsWith('__Host-xvs_session='));
    assert.match(cookie ?? '', /Secure/);
    assert.match(cookie ?? '', /HttpOnly/);
  });

  it('refuses a synth key, an unknown key and a sign-in form without its token or from another site', async () => {
    assert.equal((await signIn({ key: t.tokens.synth })).res.status, 403);
    const unknown = await signIn({ key: 'xvs_not-a-key' });
    assert.equal(unknown.res.status, 401);
    assert.equal(unknown.session, '');
    const noToken = await t.request
      .post('/sign-in')
      .set({ ...html, ...site })
      .type('form')
      .send({ key: t.tokens.admin });
    assert.equal(noToken.status, 403);
    assert.equal(cookieValue(noToken, 'xvs_session'), undefined);
    const form = await t.request.get('/sign-in').set(html);
    const crossSite = await t.request
      .post('/sign-in')
      .set({ ...html, Host: 'studio.test', Origin: 'https://evil.example' })
      .set('Cookie', setCookies(form)[0]?.split(';')[0] ?? '')
      .type('form')
      .send({ _csrf: csrfIn(form.text), key: t.tokens.admin });
    assert.equal(crossSite.status, 403);
    assert.equal(cookieValue(crossSite, 'xvs_session'), undefined);
  });

  it('refuses state changes made with the cookie but without the CSRF token or from another site', async () => {
    const { session } = await signIn();
    const keysBefore = (await listApiKeys(t.db.db)).length;
    const post = (body: Record<string, string>, from = site.Origin) =>
      t.request
        .post('/console/keys')
        .set({ ...html, Host: 'studio.test', Origin: from })
        .set('Cookie', `xvs_session=${session}`)
        .type('form')
        .send(body);
    const missing = await post({ name: 'csrf-missing', scope: 'admin' });
    assert.equal(missing.status, 403);
    assert.match(missing.text, /CSRF token/);
    assert.equal((await post({ name: 'csrf-wrong', scope: 'admin', _csrf: 'x'.repeat(43) })).status, 403);
    const token = csrfIn((await page('/console/keys', session)).text);
    assert.equal(
      (await post({ name: 'csrf-cross', scope: 'admin', _csrf: token }, 'https://evil.example')).status,
      403,
    );
    assert.equal((await listApiKeys(t.db.db)).length, keysBefore, 'no key was created by a refused form');
    // The JSON API with the cookie needs the token in a header.
    const victim = (await listApiKeys(t.db.db)).find((k) => k.name === 'test synth');
    const del = await t.request.delete(`/v1/keys/${victim?.id}`).set('Cookie', `xvs_session=${session}`);
    assert.equal(del.status, 403);
    assert.equal(del.body.code, 'CSRF_FAILED');
    assert.equal((await listApiKeys(t.db.db)).find((k) => k.name === 'test synth')?.revokedAt, null);

    const created = await post({ name: 'made in the console', scope: 'synth', _csrf: token });
    assert.equal(created.status, 201);
    const shown = /id="new-token">(xvs_[^<]+)</.exec(created.text)?.[1];
    assert.ok(shown, 'the new key is shown once');
    assert.equal((await t.request.get('/v1/voices').set(t.auth(shown))).status, 200);
    assert.doesNotMatch((await page('/console/keys', session)).text, new RegExp(shown), 'and never again');
    const made = (await listApiKeys(t.db.db)).find((k) => k.name === 'made in the console');
    const revoked = await postForm(`/console/keys/${made?.id}/revoke`, session, { _csrf: token });
    assert.equal(revoked.status, 303);
    assert.equal((await t.request.get('/v1/voices').set(t.auth(shown))).status, 401);
  });

  it('never adopts a session id brought to sign-in (fixation), and ends a live one it replaces', async () => {
    const planted = 'xvss_attacker-chosen-value-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const { res, session } = await signIn({ bring: `xvs_session=${planted}` });
    assert.equal(res.status, 303);
    assert.ok(session.startsWith('xvss_'));
    assert.notEqual(session, planted);
    assert.equal((await page('/console', planted)).status, 303, 'the planted id opens nothing');
    assert.equal((await page('/console', session)).status, 200);
    // An attacker's own live session, planted in the victim's browser, is replaced and ended at sign-in.
    const { session: attackers } = await signIn();
    const { session: victims } = await signIn({ bring: `xvs_session=${attackers}` });
    assert.notEqual(victims, attackers);
    assert.equal((await page('/console', attackers)).status, 303);
    assert.equal((await page('/console', victims)).status, 200);
  });

  it('signs out: the session ends and its cookie is cleared; sign-out needs the token', async () => {
    const { session } = await signIn();
    const token = csrfIn((await page('/console', session)).text);
    const forged = await postForm('/sign-out', session, {});
    assert.equal(forged.status, 403);
    assert.equal((await page('/console', session)).status, 200, 'still signed in');
    const out = await postForm('/sign-out', session, { _csrf: token });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, '/sign-in');
    assert.match(setCookies(out).find((c) => c.startsWith('xvs_session=')) ?? '', /Max-Age=0/);
    assert.equal((await page('/console', session)).status, 303);
    assert.equal((await t.request.get('/v1/keys').set('Cookie', `xvs_session=${session}`)).status, 401);
  });

  it('revoking the key ends the sessions opened with it', async () => {
    const { createApiKey } = await import('../db/index.ts');
    const { key, token } = await createApiKey(t.db.db, { name: 'short-lived admin', scope: 'admin' });
    const { session } = await signIn({ key: token });
    assert.equal((await page('/console', session)).status, 200);
    assert.equal((await t.request.delete(`/v1/keys/${key.id}`).set(t.auth(t.tokens.admin))).status, 200);
    assert.equal((await page('/console', session)).status, 303);
    assert.equal((await t.request.get('/v1/keys').set('Cookie', `xvs_session=${session}`)).status, 401);
  });

  it('a rater token opens no owner page', async () => {
    const invite = `/listen/i/${/\/listen\/i\/([\w-]+)/.exec((await t.request.get(`/v1/listening/tests/${testId}`).set(t.auth(t.tokens.admin))).body.invite_url)?.[1]}`;
    const { token } = await joinAsRater(t, invite);
    // A second rater fails the headphone check: the test page lists them with the stored reason.
    const failing = await joinAsRater(t, invite, { passHeadphones: false });
    const wrong = headphoneAnswers(failing.raterId).map((a) => (a + 1) % 3);
    await t.request.post(`/listen/s/${failing.token}/headphones`).send({ answers: wrong });
    const { session } = await signIn();
    const progress = await page(`/console/tests/${testId}/progress`, session);
    assert.equal(progress.status, 200);
    assert.match(progress.text, /<strong>2<\/strong> raters/);
    assert.match(progress.text, new RegExp(`<code>${failing.raterId.slice(0, 8)}</code>`));
    assert.match(progress.text, /headphone/i, 'with the reason');
    for (const path of ['/console', `/console/tests/${testId}`, `/v1/listening/tests/${testId}/report`]) {
      assert.equal((await t.request.get(path).set(t.auth(token))).status, 401, path);
      assert.equal((await page(path, token)).status, 303, `${path} with the token as a cookie`);
    }
  });

  it('the test page shows the invitation link and a QR code of it, drawn on the server as SVG', async () => {
    const { session } = await signIn();
    const shown = (await page(`/console/tests/${testId}`, session)).text;
    const invitation = /id="invite" type="url" readonly value="([^"]+)"/.exec(shown)?.[1] ?? '';
    const api = await t.request.get(`/v1/listening/tests/${testId}`).set(t.auth(t.tokens.admin));
    assert.match(invitation, new RegExp(`^http://[^/]+${api.body.invite_url}$`));
    const figure =
      /<figure class="qr" role="img" aria-label="QR code of the invitation link">([\s\S]*?)<\/figure>/.exec(shown)?.[1];
    assert.ok(figure, 'a QR code figure');
    // The same link, encoded by the QR library: the picture is of this link and no other.
    assert.equal(figure, await QRCode.toString(invitation, { type: 'svg', margin: 1 }));
    assert.notEqual(figure, await QRCode.toString(`${invitation}x`, { type: 'svg', margin: 1 }));
    assert.doesNotMatch(figure, /<script|https?:\/\/(?!www\.w3\.org)/, 'no script and nothing fetched');
  });

  it('promote and roll back from the test page, each recorded in the audit trail', async () => {
    const { session } = await signIn();
    const token = csrfIn((await page(`/console/tests/${testId}`, session)).text);
    const form = (path: string, body: Record<string, string>) => postForm(path, session, { _csrf: token, ...body });
    // Too few votes: the rule names no checkpoint and the page says so.
    const promote = await form(`/console/tests/${testId}/promote`, {});
    assert.equal(promote.status, 303);
    assert.match(promote.headers.location ?? '', /error=PROMOTION_NOT_JUSTIFIED/);
    assert.match((await page(promote.headers.location ?? '', session)).text, /do not justify a change/);
    const rollback = await form(`/console/voices/${t.voice.id}/rollback`, { back: `/console/tests/${testId}` });
    assert.equal(rollback.status, 303);
    assert.equal(rollback.headers.location, `/console/tests/${testId}?error=NOTHING_TO_ROLL_BACK`);
    // A manual promotion through the API shows in the trail, and the console's rollback undoes it.
    const { promoteCheckpoint } = await import('../db/index.ts');
    await promoteCheckpoint(t.db.db, {
      voiceId: t.voice.id,
      expectedFrom: t.base.id,
      to: t.checkpoints[1]?.id as string,
      testId,
      statistics: {},
      actor: 'auto',
    });
    // Both pages say which checkpoint the test promoted, when and by whom.
    const promotedName = t.checkpoints[1]?.name as string;
    const shown = (await page(`/console/tests/${testId}`, session)).text;
    assert.match(shown, new RegExp(`id="promoted"><strong>Promoted</strong> by this test: ${promotedName}`));
    assert.match(shown, /by the rule, automatically\.\s+The voice speaks with it now\./);
    const voicePage = (await page(`/console/voices/${t.voice.id}`, session)).text;
    assert.match(voicePage, new RegExp(`id="voice-checkpoint">${promotedName}<`));
    assert.match(
      voicePage,
      new RegExp(`id="promoted">[\\s\\S]*automatically \\(by the rule\\)[\\s\\S]*href="/console/tests/${testId}"`),
    );
    const undone = await form(`/console/voices/${t.voice.id}/rollback`, { back: `/console/tests/${testId}` });
    assert.equal(undone.headers.location, `/console/tests/${testId}?notice=rolled-back`);
    const trail = (await page(`/console/tests/${testId}`, session)).text;
    assert.match(trail, /<td>rollback<\/td>[\s\S]*<td>test admin<\/td>/);
    assert.match(trail, /<td>promote<\/td>[\s\S]*<td>auto<\/td>/);
    assert.match(trail, /The voice has changed checkpoint since\./, 'the promotion is no longer in force');
    assert.doesNotMatch((await page(`/console/voices/${t.voice.id}`, session)).text, /id="promoted"/);
    const closed = await form(`/console/tests/${testId}/close`, {});
    assert.equal(closed.headers.location, `/console/tests/${testId}?notice=closed`);
    assert.equal(
      (await t.request.get(`/v1/listening/tests/${testId}`).set(t.auth(t.tokens.admin))).body.status,
      'closed',
    );
  });
  it("creates a finished run's listening test in one step from the run page; Resume shows only on a run that stopped early", async () => {
    // A ready dataset with one held-out clip (its recording on disk) and one train clip, and a run
    // of it for the voice with two ready checkpoints: what a finished training leaves behind.
    const storage = localStorage(join(tmpdir(), 'xtts-studio')); // the app's storage when none is given
    const folder = `console-test/${randomUUID()}`;
    const evalText = 'The owner hears this held out sentence.';
    const trainText = 'A sentence the run trained on.';
    await mkdir(dirname(storage.localPath(`${folder}/wavs/e1.wav`)), { recursive: true });
    await writeFile(storage.localPath(`${folder}/wavs/e1.wav`), await espeak(evalText, { voice: 'en-us' }));
    await writeFile(storage.localPath(`${folder}/wavs/t1.wav`), await espeak(trainText, { voice: 'en-us' }));
    after(() => rm(storage.localPath(folder), { recursive: true, force: true }));
    const db = t.db.db;
    const [dataset] = await db
      .insert(schema.datasets)
      .values({ name: 'owner reads', language: 'en', status: 'ready', path: folder })
      .returning();
    assert.ok(dataset);
    const clip = { datasetId: dataset.id, durationS: 2, sampleRate: 22050, status: 'kept' as const };
    await db.insert(schema.datasetClips).values([
      { ...clip, clipKey: 'e1', path: `${folder}/wavs/e1.wav`, text: evalText, split: 'eval' },
      { ...clip, clipKey: 't1', path: `${folder}/wavs/t1.wav`, text: trainText, split: 'train' },
    ]);
    const newRun = async (voiceId: string | null) => {
      const [run] = await db
        .insert(schema.trainingRuns)
        .values({
          name: 'owner-run',
          datasetId: dataset.id,
          voiceId,
          baseCheckpointId: t.base.id,
          basePackage: '/m/base',
          // No ASR in this test: the rendered candidates go straight to listeners.
          config: { epochs: 2, listening_test: { prescreen: { enabled: false } } },
          status: 'running',
        })
        .returning();
      assert.ok(run);
      const ckpts = [];
      for (const epoch of [1, 2]) {
        ckpts.push(
          await insertCheckpoint(db, {
            name: `owner-run · epoch ${epoch}`,
            runId: run.id,
            epoch,
            step: epoch * 10,
            status: 'ready',
            packagePath: `/m/${run.id}/e${epoch}`,
          }),
        );
      }
      return { run, ckpts };
    };
    const { run, ckpts } = await newRun(t.voice.id);
    const { session } = await signIn();
    const runPage = async (id: string) => {
      const res = await page(`/training-runs/${id}`, session);
      assert.equal(res.status, 200);
      return res.text;
    };
    const form = (path: string, body: Record<string, string>) => postForm(path, session, body);

    // While it trains: Cancel, no Resume, and no button (the worker makes its test when it ends).
    let shown = await runPage(run.id);
    assert.match(shown, /<button type="button" id="cancel">Cancel<\/button>/);
    assert.match(shown, /<button type="button" id="resume" hidden>Resume<\/button>/);
    assert.doesNotMatch(shown, /id="create-test"/);
    const token = csrfIn(shown);
    assert.ok(token, 'the signed-in run page carries the CSRF token');
    const early = await form(`/console/training-runs/${run.id}/listening-test`, { _csrf: token });
    assert.equal(early.status, 303);
    assert.equal(early.headers.location, `/training-runs/${run.id}?error=RUN_NOT_FINISHED`);
    assert.match(
      await runPage(`${run.id}?error=RUN_NOT_FINISHED`),
      /role="alert">Not created: the run is still training/,
    );

    // Finished: neither Cancel nor Resume, and the one-step button.
    await updateRun(db, run.id, { status: 'succeeded' });
    shown = await runPage(run.id);
    assert.match(shown, /id="cancel" hidden>/);
    assert.match(shown, /id="resume" hidden>/);
    assert.match(
      shown,
      /<form id="create-test" method="post" action="\/console\/training-runs\/[^"]+\/listening-test">/,
    );
    assert.match(shown, /run's 2 checkpoints/);
    assert.match(shown, />Create a listening test</);
    // The tests page offers the same step for every ended run without a test.
    const listed = (await page('/console/tests', session)).text;
    assert.match(
      listed,
      new RegExp(
        `<a href="/training-runs/${run.id}">owner-run</a> <small>succeeded · 2 checkpoints · for narrator</small>\\s*<form method="post" action="/console/training-runs/${run.id}/listening-test">`,
      ),
    );
    // Without the session's token nothing is made.
    const forged = await form(`/console/training-runs/${run.id}/listening-test`, { _csrf: 'x' });
    assert.equal(forged.status, 403);
    assert.equal(
      (await db.select().from(schema.listeningTests).where(eq(schema.listeningTests.voiceId, t.voice.id))).length,
      1,
    );

    const created = await form(`/console/training-runs/${run.id}/listening-test`, { _csrf: token });
    assert.equal(created.status, 303, created.text);
    const m = /^\/console\/tests\/([0-9a-f-]{36})\?notice=created$/.exec(created.headers.location ?? '');
    assert.ok(m, String(created.headers.location));
    const newTestId = m[1] as string;
    const testPage = (await page(created.headers.location as string, session)).text;
    assert.match(testPage, /Created from the run/);
    assert.match(testPage, /owner-run: checkpoints by ear/);
    assert.match(testPage, /<svg[\s\S]*<\/svg>/, 'the invitation as a QR code');
    // The run names its test, and its page links to it.
    assert.match(await runPage(run.id), new RegExp(`id="run-test-link" href="/console/tests/${newTestId}"`));
    assert.match(await runPage(run.id), />Create another listening test</);
    assert.doesNotMatch(
      (await page('/console/tests', session)).text,
      new RegExp(`/training-runs/${run.id}/listening-test`),
    );

    // The job worker's test: the run's checkpoints, the voice's current one (the base) and the
    // base model, on the dataset's clips with their recordings as the real voice. Rendering,
    // screening and opening go on without the owner (the job worker's path).
    const res = await t.request.get(`/v1/listening/tests/${newTestId}`).set(t.auth(t.tokens.admin));
    assert.equal(res.status, 200);
    const view = res.body as {
      name: string;
      conditions: { kind: string; checkpoint_id: string | null }[];
      config: Record<string, unknown>;
    };
    assert.equal(view.name, 'owner-run: checkpoints by ear');
    const used = new Set(view.conditions.map((c) => c.checkpoint_id));
    for (const k of [...ckpts, t.base]) assert.ok(used.has(k.id), `condition for ${k.name}`);
    // The held-out sentence first; a dataset this small lends its train clip too.
    const sentences = (view.config.sentences as { text: string }[]).map((x) => x.text);
    assert.deepEqual(sentences, [evalText, trainText]);

    // A run for no voice asks which voice the test is for.
    const { run: loose } = await newRun(null);
    await updateRun(db, loose.id, { status: 'cancelled' });
    shown = await runPage(loose.id);
    assert.match(shown, /id="resume">Resume</, 'a cancelled run resumes');
    assert.match(
      shown,
      /<select id="create-test-voice" name="voice_id" required><option value="[^"]+">narrator<\/option>/,
    );
    const noVoice = await form(`/console/training-runs/${loose.id}/listening-test`, { _csrf: token });
    assert.equal(noVoice.status, 400);
    assert.match(noVoice.text, /body\.voice_id: choose the voice/);
    const gone = await form(`/console/training-runs/${loose.id}/listening-test`, {
      _csrf: token,
      voice_id: randomUUID(),
    });
    assert.equal(gone.headers.location, `/training-runs/${loose.id}?error=VOICE_NOT_FOUND`);
  });
});
