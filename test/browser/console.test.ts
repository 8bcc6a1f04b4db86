/**
 * The owner's console in a real browser (Debian's chromium, headless) on a desktop and a 390 px
 * phone viewport: sign-in, every owner page with an axe-core accessibility check (no serious or
 * critical violation), no horizontal scrolling and tap targets of at least 44 px on the phone,
 * creating a voice and hearing it, creating and revoking a key, and sign-out. A screenshot of
 * each page is saved under SCREENSHOT_DIR/console/ (.data/test-output/console/ when unset, which git ignores).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import type { BrowserContext, Page } from 'playwright-core';
import { getCheckpoint, insertCheckpoint } from '../../db/index.ts';
import { localStorage } from '../../infra/index.ts';
import { testApp } from '../helpers/app.ts';
import { axeViolations, chromiumMissing, launchChromium, phoneProblems } from '../helpers/browser.ts';
import { finishBuildAsWorker } from '../helpers/datasets.ts';
import { espeakWav, manifestOnlyPackage } from '../helpers/speech.ts';
import { toneEngine } from '../helpers/tone-engine.ts';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

describe('the owner console in a browser', { skip: chromiumMissing }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-console-'));
  const modelDir = join(dataDir, 'models');
  const shots = join(
    process.env.SCREENSHOT_DIR ?? new URL('../../.data/test-output/', import.meta.url).pathname,
    'console',
  );
  const wav = espeakWav('The quick brown fox jumps over the lazy dog, and then it rests.');
  let t: Awaited<ReturnType<typeof testApp>>;
  let server: ReturnType<typeof createAdaptorServer>;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: BrowserContext;
  let base = '';
  const ids = { dataset: '', run: '', test: '', voice: '' };

  before(async () => {
    mkdirSync(shots, { recursive: true });
    t = await testApp({ engine: toneEngine(), dataDir, modelDir });
    const admin = t.auth(t.tokens.admin);
    manifestOnlyPackage(modelDir, 'base');
    const baseCk = await t.request.post('/v1/checkpoints').set(admin).send({ name: 'base', package_path: 'base' });
    assert.equal(baseCk.status, 201, JSON.stringify(baseCk.body));
    const dataset = await t.request
      .post('/v1/datasets')
      .set(admin)
      .field('name', 'my recordings')
      .field('language', 'en')
      .attach('recordings', Buffer.from(wav), 'a.wav');
    ids.dataset = dataset.body.id;
    await finishBuildAsWorker(t.db.db, localStorage(dataDir), ids.dataset, [
      { key: 'c_0001', text: 'The quick brown fox jumps over the lazy dog.', wav, durationS: 3.1 },
    ]);
    ids.run = (await t.request.post('/v1/training-runs').set(admin).send({ dataset_id: ids.dataset })).body.id;
    const voice = await t.request
      .post('/v1/voices')
      .set(admin)
      .field('name', 'narrator')
      .field('language', 'en')
      .attach('clips', Buffer.from(wav), 'n.wav');
    ids.voice = voice.body.id;
    const packagePath = (await getCheckpoint(t.db.db, baseCk.body.id))?.packagePath as string;
    const cks = [1, 2].map((step) =>
      insertCheckpoint(t.db.db, { name: `run-e${step}`, runId: ids.run, step, status: 'ready', packagePath }),
    );
    const test = await t.request
      .post('/v1/listening/tests')
      .set(admin)
      .send({
        voice_id: ids.voice,
        name: 'narrator: which epoch?',
        checkpoint_ids: (await Promise.all(cks)).map((k) => k.id),
        base_checkpoint_id: baseCk.body.id,
        sentences: [{ text: 'The owner reads this sentence.' }],
        trials_per_rater: { ab_naturalness: 4, mos: 1, similarity: 1, ab_similarity: 1 },
        gold_per_rater: 1,
        trap_per_rater: 1,
      });
    assert.equal(test.status, 201, JSON.stringify(test.body));
    ids.test = test.body.id;
    server = createAdaptorServer({ fetch: t.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A fake microphone (a beep), granted without asking, for recording clips in the page.
    chromium = await launchChromium({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
    browser = chromium.browser;
  });
  after(async () => {
    await chromium?.close();
    server?.close();
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function check(page: Page, view: keyof typeof VIEWPORTS, name: string) {
    await page.screenshot({ path: join(shots, `${view}-${name}.png`), fullPage: true });
    // At both widths: what overflows (a table that scrolls on a phone must be reachable by keyboard) depends on it.
    assert.deepEqual(await axeViolations(page), [], `${view} ${name}: accessibility`);
    if (view === 'phone') {
      assert.deepEqual(await phoneProblems(page), [], `${name} on the phone`);
      // The narrowest phones in use: nothing may scroll sideways or shrink below 44 px there either.
      await page.setViewportSize({ width: 360, height: 780 });
      assert.deepEqual(await phoneProblems(page), [], `${name} at 360 px`);
      await page.setViewportSize(VIEWPORTS.phone);
    }
  }

  for (const view of ['desktop', 'phone'] as const) {
    it(`signs in and walks the owner pages on a ${view} (${VIEWPORTS[view].width} px)`, async (ctx) => {
      await browser.clearCookies();
      const page = await browser.newPage();
      await page.setViewportSize(VIEWPORTS[view]);
      await page.goto(`${base}/console/keys`);
      assert.equal(new URL(page.url()).pathname, '/sign-in', 'sent to sign in');
      await check(page, view, 'sign-in');
      await page.fill('#sign-in-key', 'xvs_wrong');
      await page.click('button[type=submit]');
      await page.waitForSelector('text=unknown or revoked');
      await page.fill('#sign-in-key', t.tokens.admin);
      await page.click('button[type=submit]');
      await page.waitForURL(`${base}/console/keys`);

      // Keys: create one (shown once), then revoke it.
      await page.fill('#name', `${view} phone-app`);
      await page.selectOption('#scope', 'synth');
      await page.click('form[action="/console/keys"] button');
      const token = (await page.textContent('#new-token'))?.trim() ?? '';
      assert.match(token, /^xvs_/);
      await check(page, view, 'keys');
      assert.equal((await t.request.get('/v1/voices').set(t.auth(token))).status, 200);
      await page.click(`button[aria-label="Revoke ${view} phone-app"]`);
      await page.waitForURL(`${base}/console/keys`);
      assert.equal((await t.request.get('/v1/voices').set(t.auth(token))).status, 401);

      await page.goto(`${base}/console`);
      for (const text of ['narrator', 'my recordings', 'narrator: which epoch?']) {
        assert.ok(await page.locator(`main a:has-text("${text}")`).count(), `the console lists ${text}`);
      }
      await check(page, view, 'console');

      // Voices: create one from a clip; the reference check's answer is shown.
      if (view === 'phone') {
        // A browser that cannot record (no MediaRecorder, as on plain http): no button, the files instead.
        await page.addInitScript(() => {
          delete (globalThis as { MediaRecorder?: unknown }).MediaRecorder;
        });
      }
      await page.goto(`${base}/console/voices`);
      if (view === 'phone') {
        assert.equal(await page.isHidden('#record'), true);
        assert.match((await page.textContent('#record-help')) ?? '', /cannot record here[\s\S]*choose recorded files/);
      }
      if (view === 'desktop') {
        // Record a clip with the microphone: it is listed with its length, playable, and removable.
        await page.click('#record');
        await page.locator('#record[aria-pressed="true"]').waitFor();
        await page.waitForTimeout(1500);
        await page.click('#record');
        const item = page.locator('#recordings li');
        await item.waitFor();
        const seconds = Number(/\(([\d.]+) s\)/.exec((await item.textContent()) ?? '')?.[1]);
        assert.ok(seconds > 0.5, `a recording of ${seconds} s`);
        await page.click('button[aria-label="Remove recording-1.wav"]');
        await item.waitFor({ state: 'detached' });
      }
      await page.fill('#voice-name', `${view} voice`);
      await page.setInputFiles('#voice-clips', { name: 'clip.wav', mimeType: 'audio/wav', buffer: Buffer.from(wav) });
      await page.click('#create-voice button[type=submit]');
      await page.locator('#voice-result', { hasText: /Created|Not created|Choose/ }).waitFor();
      assert.match((await page.textContent('#voice-result')) ?? '', new RegExp(`^Created ${view} voice\\.`));
      await check(page, view, 'voices');

      // A voice: speak a text with a chosen checkpoint and get the audio.
      await page.goto(`${base}/console/voices/${ids.voice}`);
      await page.selectOption('#try-checkpoint', { label: 'run-e2 (fine-tuned)' });
      await page.click('#try-voice button');
      // Locators, not waitForFunction: the pages' CSP forbids evaluating strings.
      await page.locator('#try-status', { hasText: /Done|Failed/ }).waitFor();
      assert.equal(await page.textContent('#try-status'), 'Done.');
      assert.equal(await page.isHidden('#try-download'), false);
      await check(page, view, 'voice');

      await page.goto(`${base}/console/tests`);
      await check(page, view, 'tests');
      await page.click('a:has-text("narrator: which epoch?")');
      assert.match(await page.inputValue('#invite'), /^http:\/\/127\.0\.0\.1:\d+\/listen\/i\/[\w-]+$/);
      if (view === 'desktop') {
        // Not yet recorded and rendered: the page says why it cannot open.
        await page.click('button:has-text("Open the test to listeners")');
        await page.waitForSelector('text=every stimulus must be rendered');
      }
      await page.click('button:has-text("Promote")');
      await page.waitForSelector('text=do not justify a change');
      await check(page, view, 'test');
      await page.click('a:has-text("The results report")');
      await page.waitForSelector('h1');
      await check(page, view, 'report');
      // Datasets: upload recordings (progress shown), then start a run with one advanced option changed.
      await page.goto(`${base}/console/datasets`);
      await check(page, view, 'datasets');
      if (view === 'desktop') {
        await page.fill('#dataset-name', 'uploaded in the browser');
        await page.setInputFiles('#dataset-recordings', {
          name: 'r.wav',
          mimeType: 'audio/wav',
          buffer: Buffer.from(wav),
        });
        // Refused after the upload: the bar shows the bytes sent and the status says why; the form stays.
        await page.route('**/v1/datasets', (route) =>
          route.fulfill({
            status: 507,
            contentType: 'application/json',
            body: JSON.stringify({ code: 'DISK_FULL', message: 'The disk is full' }),
          }),
        );
        await page.click('#create-dataset button');
        await page.locator('#upload-status', { hasText: 'Not uploaded: The disk is full' }).waitFor();

        assert.equal(await page.isEnabled('#create-dataset button'), true, 'the owner may try again');
        await page.unroute('**/v1/datasets');
        // What the upload status says as the bytes go, seen by an observer in the page.
        const said: string[] = [];
        await page.exposeFunction('uploadStatusSaid', (text: string) => said.push(text));
        await page.locator('#upload-status').evaluate((el) => {
          // The page's globals (this file is type-checked without the DOM's types).
          const page = globalThis as unknown as {
            uploadStatusSaid: (t: string) => void;
            MutationObserver: new (f: () => void) => { observe(el: unknown, o: object): void };
          };
          new page.MutationObserver(() => page.uploadStatusSaid(el.textContent ?? '')).observe(el, {
            childList: true,
            characterData: true,
            subtree: true,
          });
        });
        await page.click('#create-dataset button');
        await page.waitForURL(/\/datasets\/[0-9a-f-]{36}$/);
        assert.equal(await page.textContent('h1'), 'Dataset: uploaded in the browser');
        // Progress from the upload's own events (XMLHttpRequest), then the build's page.
        assert.equal(said[0], '0 %');
        assert.ok(said.indexOf('100 %') > 0, said.join(' | '));
        assert.equal(said.at(-1), 'Uploaded: building…');
        await page.goto(`${base}/console/datasets`);
        await page.selectOption('#run-dataset', ids.dataset);
        await page.selectOption('#run-voice', ids.voice);
        await page.click('#start-run summary');
        await page.fill('#run-epochs', '2');
        await page.click('#start-run button');
        await page.waitForURL(/\/training-runs\/[0-9a-f-]{36}$/);
        const started = await t.request
          .get(`/v1/training-runs/${page.url().split('/').pop()}`)
          .set(t.auth(t.tokens.admin));
        assert.equal(started.body.config.epochs, 2);
        assert.equal(started.body.config.batch_size, 3, 'the rest keep their defaults');
        assert.equal(started.body.voice_id, ids.voice);
      }
      await page.goto(`${base}/datasets/${ids.dataset}`);
      await check(page, view, 'dataset');
      await page.goto(`${base}/training-runs/${ids.run}`);
      await check(page, view, 'run');
      if (view === 'desktop') {
        // Signed in, the page's own requests go with the cookie and the CSRF token: no key typed in.
        assert.equal(await page.locator('#key').count(), 0);
        assert.equal(await page.isHidden('#resume'), true, 'a queued run does not resume');
        await page.click('#cancel');
        await page.locator('#status', { hasText: 'cancelled' }).waitFor();
        // A checkpoint's Play says which checkpoint speaks (one player serves every row).
        await page.fill('#voice', ids.voice);
        await page.locator('tr[data-checkpoint] button.play').nth(1).click();
        await page.locator('#player-status', { hasText: /^Play(ing|ed) run-e2\.$/ }).waitFor();
        // Stopped early: Resume instead of Cancel, and its checkpoints' listening test in one step.
        assert.equal(await page.isHidden('#cancel'), true);
        assert.equal(await page.isVisible('#resume'), true);
        await page.reload();
      }
      // The run has ended (cancelled above on the desktop): the one-step test form, with the voice to choose.
      assert.equal(await page.isHidden('#cancel'), true);
      assert.match((await page.textContent('#create-test button')) ?? '', /^Create a listening test$/);
      assert.ok(await page.locator('#create-test-voice option', { hasText: 'narrator' }).count());
      await check(page, view, 'run-ended');

      await page.click('button:has-text("Sign out")');
      await page.waitForURL(`${base}/sign-in`);
      await page.goto(`${base}/console`);
      assert.equal(new URL(page.url()).pathname, '/sign-in', 'signed out');
      await page.close();
      ctx.diagnostic(`screenshots in ${shots}`);
    });
  }
});
