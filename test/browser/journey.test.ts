/**
 * The owner's whole journey in a real browser (Debian's chromium, headless), against one studio
 * with the real job worker and the real trainer on the tiny model: on a desktop, sign in, create a
 * voice, build a dataset from an espeak-ng recording (the bundled small Whisper transcribes it),
 * start a tiny training run, open the listening test the run created, have it completed by raters
 * (two full sessions in a second browser, at desktop and phone width, the rest through the crowd
 * API, all in real time and at once), close it and see the rule promote the checkpoint, then hear
 * the voice speak with it. A 390 px phone walks beside it through every owner page of the journey
 * against the same dataset, run and test (signing in and creating a voice of its own by keyboard,
 * filling the dataset and run forms without sending them, hearing the promoted voice), so the
 * dataset is built, the model trained and the test rendered once. Every page gets an axe-core
 * check (no serious or critical violation) and, on the phone, the tap-target and
 * no-sideways-scroll check (also at 360 px); a screenshot of each is saved under SCREENSHOT_DIR
 * /journey/ (.data/test-output/journey/ when unset, which git ignores), emptied first.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAdaptorServer } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import type { BrowserContext, Page } from 'playwright-core';
import { startJobWorkers } from '../../api/index.ts';
import { listApiKeys, schema } from '../../db/index.ts';
import { createEngine } from '../../inference/index.ts';
import { headphoneAnswers } from '../../listening/index.ts';
import type { Worker } from '../../trainer/index.ts';
import { testApp } from '../helpers/app.ts';
import {
  axeViolations,
  CROWD_TARGETS,
  chromiumMissing,
  launchChromium,
  OWNER_TARGETS,
  phoneProblems,
} from '../helpers/browser.ts';
import { type Clip, type Oracle, stimulusOracle } from '../helpers/crowd.ts';
import { EMBEDDED_PASS_ONLY } from '../helpers/db.ts';
import { readingWav, tinyJobDeps, tinyTrainerWeights } from '../helpers/e2e.ts';
import { honestAnswer, identify, takePartLive } from '../helpers/live-crowd.ts';
import { binaryBody } from '../helpers/speech.ts';
import { dataDirWithTinyModel, tinyReferenceClip } from '../helpers/tiny.ts';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
type View = keyof typeof VIEWPORTS;
const SHOTS = join(
  process.env.SCREENSHOT_DIR ?? new URL('../../.data/test-output/', import.meta.url).pathname,
  'journey',
);
/** Raters who complete the test: one in the browser at each width, the rest through the crowd API. */
const RATERS = 15;
const API_RATERS = RATERS - 2;

// The journey's database work is the same on both; it runs in the embedded pass (the training,
// crowd and promotion path runs on PostgreSQL in test/training.e2e.test.ts).
describe('the owner journey in a browser, desktop and phone (tiny model, real worker)', {
  skip: chromiumMissing || EMBEDDED_PASS_ONLY,
}, () => {
  const engine = createEngine({ workers: 1 });
  const dirs = dataDirWithTinyModel('tiny');
  let t: Awaited<ReturnType<typeof testApp>>;
  let workers: Worker[] = [];
  let server: ReturnType<typeof createAdaptorServer>;
  let base = '';
  let reading: Buffer;
  const owners: Partial<Record<View, Awaited<ReturnType<typeof launchChromium>>>> = {};
  let raters: Awaited<ReturnType<typeof launchChromium>>;
  const pages: Partial<Record<View, Page>> = {};
  /** What the desktop journey made; the phone opens the same pages. */
  const j = { voice: '', phoneVoice: '', dataset: '', run: '', test: '', checkpoint: '', name: '', kept: 0 };
  /** Script errors on any page, which fail the journey at its end. */
  const scriptErrors: string[] = [];
  /** Every owner page the journey opened, for the check that none opens without a session. */
  const ownerPaths = new Set<string>();
  const admin = () => t.auth(t.tokens.admin);
  const started = Date.now();
  const laps: string[] = [];
  const lap = (what: string) => {
    laps.push(`${what} at ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return laps.at(-1) as string;
  };

  before(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    await tinyTrainerWeights(dirs);
    // The speaker reads the tiny model's short sentences (its dataset is cut to 1-2.6 s clips).
    reading = readingWav();
    t = await testApp({
      engine,
      dataDir: dirs.dataDir,
      modelDir: dirs.modelDir,
      // The dataset and run pages follow their job live at the studio's usual pace (every 500 ms).
      // Every rater here joins from 127.0.0.1, some fifteen within a minute; a real crowd comes from many addresses.
      crowdLimits: { joinsPerMinute: 1000, requestsPerMinute: 1000 },
    });
    // One job worker: the dataset build, the training run and the test's rendering come one after another.
    // It asks for work at the studio's usual pace (every second): at 100 ms its two slots' empty
    // claims were 3,200 queries a run, about 10 s of the embedded database's CPU, most of them
    // while the raters listen and no job is queued.
    workers = startJobWorkers({ ...tinyJobDeps(t, engine, dirs), count: 1 });
    // The studio's base model, registered once by whoever installed it.
    const baseCk = await t.request
      .post('/v1/checkpoints')
      .set(admin())
      .send({ name: 'tiny base', package_path: 'tiny' });
    assert.equal(baseCk.status, 201, JSON.stringify(baseCk.body));
    server = createAdaptorServer({ fetch: t.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const view of ['desktop', 'phone'] as const) {
      owners[view] = await launchChromium({ viewport: VIEWPORTS[view] });
    }
    raters = await launchChromium();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const c of [owners.desktop, owners.phone, raters]) await c?.close();
    server?.close();
    await t?.close();
    await engine.close();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  /** A screenshot, the accessibility check, and on the phone the tap targets and width (also at 360 px). */
  async function check(page: Page, view: View, name: string, targets = OWNER_TARGETS) {
    const url = new URL(page.url());
    if (targets === OWNER_TARGETS && url.pathname !== '/sign-in') ownerPaths.add(url.pathname);
    await page.screenshot({ path: join(SHOTS, `${view}-${name}.png`), fullPage: true });
    assert.deepEqual(await axeViolations(page), [], `${view} ${name}: accessibility`);
    if (view === 'phone') {
      assert.deepEqual(await phoneProblems(page, targets), [], `${name} on the phone`);
      await page.setViewportSize({ width: 360, height: 780 });
      assert.deepEqual(await phoneProblems(page, targets), [], `${name} at 360 px`);
      await page.setViewportSize(VIEWPORTS.phone);
    }
  }

  /** Presses a control from the keyboard: focus, then Enter (buttons, links, summaries). */
  const press = async (page: Page, selector: string, key = 'Enter') => {
    await page.locator(selector).focus();
    await page.keyboard.press(key);
  };

  /** Signs in by keyboard from a browser that holds a planted session id, and creates a voice: its id. */
  async function signInAndCreateVoice(view: View): Promise<string> {
    const owner = owners[view]?.browser as BrowserContext;
    // A session id planted before sign-in (fixation) is never adopted.
    const planted = 'xvss_planted-by-someone-else-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    await owner.addCookies([{ name: 'xvs_session', value: planted, url: base }]);
    const page = await owner.newPage();
    pages[view] = page;
    page.on('pageerror', (e) => scriptErrors.push(`${view} owner: ${e.message}`));

    // Sign in, by keyboard.
    await page.goto(`${base}/console`);
    assert.equal(new URL(page.url()).pathname, '/sign-in', 'sent to sign in');
    await check(page, view, '01-sign-in');
    await page.locator('#sign-in-key').focus();
    await page.keyboard.type(t.tokens.admin);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/console`);
    const session = (await owner.cookies(base)).find((c) => c.name === 'xvs_session')?.value;
    assert.ok(session?.startsWith('xvss_') && session !== planted, 'a fresh session id, not the planted one');
    await check(page, view, '02-console');

    // A voice from one reference clip.
    await page.click('header a:has-text("Voices")');
    await page.fill('#voice-name', `june ${view}`);
    await page.fill('#voice-language', 'en');
    await page.setInputFiles('#voice-clips', {
      name: 'june.wav',
      mimeType: 'audio/wav',
      buffer: Buffer.from(tinyReferenceClip()),
    });
    await press(page, '#create-voice button[type=submit]');
    await page.locator('#voice-result', { hasText: /Created|Not created|Choose/ }).waitFor();
    assert.match((await page.textContent('#voice-result')) ?? '', new RegExp(`^Created june ${view}\\.`));
    await check(page, view, '03-voices');
    await press(page, `#voice-result a:has-text("june ${view}")`);
    await page.waitForURL(/\/console\/voices\/[0-9a-f-]{36}$/);
    assert.match((await page.textContent('main p')) ?? '', /speaking with base model/);
    await check(page, view, '04-voice-new');
    return page.url().split('/').pop() as string;
  }

  /** The dataset form with the options a tiny model needs (short clips, the bundled Whisper), not yet sent. */
  async function fillDatasetForm(view: View) {
    const page = pages[view] as Page;
    await page.click('header a:has-text("Datasets")');
    await page.fill('#dataset-name', `june reads (${view})`);
    await page.selectOption('#dataset-language', 'en');
    await page.selectOption('#dataset-chunker', 'sentence');
    await page.setInputFiles('#dataset-recordings', { name: 'reading.wav', mimeType: 'audio/wav', buffer: reading });
    await press(page, '#create-dataset summary');
    for (const [id, value] of [
      ['#dataset-min-s', '1'],
      ['#dataset-max-s', '2.6'],
      ['#dataset-eval', '0.25'],
      ['#dataset-seed', '3'],
      ['#dataset-asr', 'tiny.en-bundled'],
    ] as const) {
      await page.fill(id, value);
    }
    await page.selectOption('#dataset-asr-device', 'cpu');
    await check(page, view, '05-datasets-form');
  }

  /** The dataset page of the desktop's dataset, built: the status and the clips kept. */
  async function checkDatasetPage(view: View) {
    const page = pages[view] as Page;
    if (view === 'phone') await page.goto(`${base}/datasets/${j.dataset}`);
    // The page follows the build live and reloads when it is done.
    await page.locator('#status', { hasText: /^(ready|failed)$/ }).waitFor({ timeout: 300_000 });
    assert.equal(await page.textContent('#status'), 'ready');
    const kept = await page.locator('tr[data-clip].in').count();
    if (view === 'desktop') j.kept = kept;
    assert.ok(kept >= 4, `${kept} clips kept`);
    assert.equal(kept, j.kept, 'both widths list the same clips');
    await check(page, view, '06-dataset');
  }

  /** The start-run form for the desktop's dataset and voice, its test promoting automatically, not yet sent. */
  async function fillRunForm(view: View) {
    const page = pages[view] as Page;
    await page.click('header a:has-text("Datasets")');
    await page.selectOption('#run-dataset', j.dataset);
    await page.selectOption('#run-voice', j.voice);
    await page.fill('#run-name', `june-${view}`);
    await press(page, '#start-run summary');
    for (const [id, value] of [
      ['#run-epochs', '1'],
      ['#run-lr', '1e-3'],
      ['#run-batch', '2'],
      ['#run-accum', '1'],
      ['#run-seed', '7'],
      ['#run-ab-nat', '4'],
      ['#run-ab-sim', '2'],
      ['#run-mos', '1'],
      ['#run-sim', '1'],
    ] as const) {
      await page.fill(id, value);
    }
    await page.selectOption('#run-device', 'cpu');
    await press(page, '#run-auto-promote', 'Space');
    assert.equal(await page.isChecked('#run-auto-promote'), true);
    await check(page, view, '07-start-run');
  }

  /** Speaks a sentence on the voice page: the promoted checkpoint answers, and the audio plays. */
  async function tryPromotedVoice(page: Page) {
    await page.fill('#try-text', 'The promoted checkpoint speaks.');
    const [speech] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/audio/speech')),
      press(page, '#try-voice button[type=submit]'),
    ]);
    assert.equal(speech.status(), 200);
    assert.equal(speech.headers()['x-checkpoint-id'], j.checkpoint, 'the voice speaks with the promoted checkpoint');
    await page.locator('#try-status', { hasText: /Done|Failed/ }).waitFor({ timeout: 60_000 });
    assert.equal(await page.textContent('#try-status'), 'Done.');
    assert.match(
      (await page.textContent('#try-used')) ?? '',
      new RegExp(`^Spoken with ${j.name} \\(fine-tuned\\)\\.$`),
    );
    // The audio plays: it has a length and its playhead moves (or it already ended).
    for (let i = 0; ; i++) {
      const state = (await page.evaluate(
        "(() => { const a = document.getElementById('try-player'); return { d: a.duration, t: a.currentTime, e: a.ended }; })()",
      )) as { d: number; t: number; e: boolean };
      if (state.d > 0 && (state.t > 0 || state.e)) break;
      assert.ok(i < 100, `the speech plays: ${JSON.stringify(state)}`);
      await sleep(100);
    }
  }

  /** One rater's whole session in the browser, answering as an honest listener by keyboard. */
  async function browserRater(view: View, invite: string, oracle: Oracle, rank: Record<string, number>) {
    const page = await raters.browser.newPage();
    await page.setViewportSize(VIEWPORTS[view]);
    page.on('pageerror', (e) => scriptErrors.push(`${view} rater: ${e.message}`));
    const worker = `W-browser-${view}`;
    await page.goto(`${invite}?worker_id=${worker}`);
    assert.match(await page.locator('h1').innerText(), /Listening test/);
    await check(page, view, '11-rater-consent', CROWD_TARGETS);
    await press(page, 'input[name=consent]', 'Space');
    await press(page, '#start');
    await page.waitForURL(/\/listen\/s\/lrt_/);
    await check(page, view, '12-rater-headphones', CROWD_TARGETS);
    const [rater] = await t.db.db.select().from(schema.raters).where(eq(schema.raters.workerId, worker));
    assert.ok(rater, 'the rater joined');
    for (const [q, answer] of headphoneAnswers(rater.id).entries()) {
      await press(page, `button.play >> nth=${q}`);
      await page.locator(`#status-${q}`).filter({ hasText: 'played' }).waitFor({ timeout: 20_000 });
      await press(page, `input[name=q${q}][value="${answer}"]`, 'Space');
    }
    await press(page, '#submit');
    await page.waitForSelector('#question');
    const seen = new Set<string>();
    let answered = 0;
    while (await page.locator('#question').count()) {
      const plays = page.locator('button.play');
      const clips: Record<string, Clip> = {};
      for (let i = 0; i < (await plays.count()); i++) {
        const src = (await plays.nth(i).getAttribute('data-src')) as string;
        const audio = await t.request
          .get(src)
          .buffer(true)
          .parse(binaryBody as never);
        clips[src.split('/').pop() as string] = identify(oracle, new Uint8Array(audio.body));
        await plays.nth(i).focus();
        await page.keyboard.press('Enter');
        await page.locator('[data-heard=true]').nth(i).waitFor({ timeout: 20_000 });
      }
      const answer = honestAnswer({ a: clips.a as Clip, b: clips.b }, rank);
      const key = (await page.locator(`button.vote[data-answer="${answer}"]`).getAttribute('data-key')) as string;
      // One check of each kind of question (A/B, rating, with or without the reference).
      const kind = `${clips.b ? 'ab' : 'rating'}${clips.ref ? '-ref' : ''}`;
      if (!seen.has(kind)) {
        seen.add(kind);
        await check(page, view, `13-rater-${kind}`, CROWD_TARGETS);
      }
      await Promise.all([page.waitForEvent('load'), page.keyboard.press(key)]);
      answered++;
    }
    assert.deepEqual([...seen].sort(), ['ab', 'ab-ref', 'rating', 'rating-ref'], `${view}: every kind of question`);
    assert.match(await page.locator('h1').innerText(), /All done/);
    await check(page, view, '14-rater-done', CROWD_TARGETS);
    await press(page, '#finish');
    const code = (await page.locator('#completion-code').innerText()).trim();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
    await check(page, view, '15-rater-code', CROWD_TARGETS);
    // Nothing on a rater's pages leads to the owner's.
    assert.equal(await page.locator('a[href^="/console"], a[href^="/v1/"], a[href^="/datasets"]').count(), 0);
    await page.close();
    return answered;
  }

  // One journey builds, trains, renders and is rated; the phone opens each of its pages as it gets
  // there (while the worker builds, trains or renders), and one of the raters listens on a phone.
  it('desktop (1280 px) walks the journey, the phone (390 px) every page of it: voice, dataset, run, test, raters, promotion, speech', async (ctx) => {
    j.voice = await signInAndCreateVoice('desktop');
    const page = pages.desktop as Page;

    // A dataset from the recording.
    await fillDatasetForm('desktop');
    await press(page, '#create-dataset button[type=submit]');
    await page.waitForURL(/\/datasets\/[0-9a-f-]{36}$/);
    j.dataset = page.url().split('/').pop() as string;
    const options = (await t.request.get(`/v1/datasets/${j.dataset}`).set(admin())).body.options;
    assert.deepEqual(
      [options.min_s, options.max_s, options.eval_fraction, options.seed, options.asr.model, options.asr.device],
      [1, 2.6, 0.25, 3, 'tiny.en-bundled', 'cpu'],
      'the changed fields were sent',
    );
    assert.equal(options.target_dbfs, -20, 'the others keep the defaults');
    // While it builds, the phone signs in, creates a voice of its own and fills the same form.
    j.phoneVoice = await signInAndCreateVoice('phone');
    assert.notEqual(j.phoneVoice, j.voice);
    await fillDatasetForm('phone');
    await checkDatasetPage('desktop');
    await checkDatasetPage('phone');

    // A tiny training run for the voice, its test promoting automatically.
    await fillRunForm('desktop');
    await press(page, '#start-run button[type=submit]');
    await page.waitForURL(/\/training-runs\/[0-9a-f-]{36}$/);
    j.run = page.url().split('/').pop() as string;
    const run = (await t.request.get(`/v1/training-runs/${j.run}`).set(admin())).body;
    assert.equal(run.voice_id, j.voice);
    assert.deepEqual(
      [
        run.config.epochs,
        run.config.lr,
        run.config.batch_size,
        run.config.grad_accum,
        run.config.seed,
        run.config.device,
      ],
      [1, 1e-3, 2, 1, 7, 'cpu'],
    );
    assert.equal(run.config.precision, 'fp32', 'an unchanged field keeps its default');
    assert.equal(run.config.listening_test.auto_promote, true);
    assert.deepEqual(run.config.listening_test.trials_per_rater, {
      ab_naturalness: 4,
      ab_similarity: 2,
      mos: 1,
      similarity: 1,
    });
    assert.equal(run.config.listening_test.every_epochs, undefined, 'an empty field is not sent');
    await check(page, 'desktop', '08-run-started');
    lap('run started');
    // While it trains, the phone fills the same form and opens the run.
    const phone = pages.phone as Page;
    await fillRunForm('phone');
    await phone.goto(`${base}/training-runs/${j.run}`);
    await check(phone, 'phone', '08-run-started');

    // The page shows the run's test once the worker has created it (it asks every few seconds).
    await page.goto(`${base}/training-runs/${j.run}`);
    await page.locator('#run-test-link').waitFor({ timeout: 600_000 });
    await page.locator('#status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
    const trained = (await t.request.get(`/v1/training-runs/${j.run}`).set(admin())).body;
    assert.equal(trained.status, 'succeeded');
    assert.equal(trained.checkpoints.length, 1, 'one epoch, one checkpoint');
    j.checkpoint = trained.checkpoints[0].id;
    j.name = trained.checkpoints[0].name;
    j.test = trained.listening_test_id;
    lap("run's test created");
    await check(page, 'desktop', '09-run');
    // While the test renders, the phone sees the finished run and its test (still being prepared).
    await phone.reload();
    await phone.locator('#run-test-link').waitFor({ timeout: 60_000 });
    await phone.locator('#status', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
    await check(phone, 'phone', '09-run');
    await press(page, '#run-test-link');
    await page.waitForURL(`${base}/console/tests/${j.test}`);
    // Rendered, pre-screened, then opened by the worker (asked through the API: reloading the page
    // every second for the minutes this takes would cost more than the rendering), then shown.
    for (let i = 0, status = ''; status !== 'open'; i++) {
      status = (await t.request.get(`/v1/listening/tests/${j.test}`).set(admin())).body.status;
      assert.ok(i < 300, `the test opens (it is ${status})`);
      if (status !== 'open') await sleep(1000);
    }
    await page.reload();
    assert.equal(await page.textContent('span.status'), 'open');
    lap('test open');
    await check(page, 'desktop', '10-test-open');
    const invite = await page.inputValue('#invite');
    assert.match(invite, /^http:\/\/127\.0\.0\.1:\d+\/listen\/i\/[\w-]+$/);
    await press(phone, '#run-test-link');
    await phone.waitForURL(`${base}/console/tests/${j.test}`);
    assert.equal(await phone.textContent('span.status'), 'open');
    assert.equal(await phone.inputValue('#invite'), invite);
    await check(phone, 'phone', '10-test-open');

    // Honest listeners hear the real speaker best, then the fine-tuned checkpoint, then the base.
    const test = (await t.request.get(`/v1/listening/tests/${j.test}`).set(admin())).body;
    const rank: Record<string, number> = {};
    for (const c of test.conditions as Array<{ id: string; kind: string; checkpoint_id: string | null }>) {
      rank[c.id] = c.kind === 'real' ? 3 : c.checkpoint_id === j.checkpoint ? 2 : c.kind === 'base' ? 1 : 0;
    }
    const oracle = await stimulusOracle(t.db.db, j.test);
    const path = new URL(invite).pathname;
    const inBrowser = await Promise.all([
      browserRater('desktop', invite, oracle, rank),
      browserRater('phone', invite, oracle, rank),
      ...Array.from({ length: API_RATERS }, (_, i) =>
        takePartLive(t.request, { invite: path, oracle, rank, workerId: `W-api-${i}` }),
      ),
    ]).then((answered) => answered.slice(0, 2));
    for (const n of inBrowser) assert.ok(n >= 10, `a browser rater answered ${n} questions`);
    lap('raters done');

    const results = (await t.request.get(`/v1/listening/tests/${j.test}/results`).set(admin())).body;
    assert.equal(results.decision.promote, true, JSON.stringify(results.decision));
    // The owner closes the test; the rule promotes the listeners' choice.
    await page.reload();
    assert.match((await page.textContent('#progress')) ?? '', new RegExp(`${RATERS} raters`));
    await press(page, 'button:has-text("Close the test")');
    await page.waitForURL(/notice=closed/);
    const promoted = (await page.textContent('#promoted')) ?? '';
    assert.match(promoted, new RegExp(`Promoted by this test: ${j.name}\\s+\\(from base model\\)`));
    assert.match(promoted, /automatically/);
    assert.match(promoted, /The voice speaks with it now/);
    await check(page, 'desktop', '16-test-promoted');
    await phone.reload();
    assert.equal(await phone.textContent('#promoted'), promoted, 'the phone shows the same promotion');
    await check(phone, 'phone', '16-test-promoted');
    for (const [view, p] of [
      ['desktop', page],
      ['phone', phone],
    ] as const) {
      await press(p, 'a:has-text("The results report")');
      await p.waitForSelector('#decision');
      await check(p, view, '17-report');
      await p.goBack();

      // The voice page: promoted, and it speaks with the promoted checkpoint.
      await press(p, `main a:has-text("june desktop")`);
      await p.waitForURL(`${base}/console/voices/${j.voice}`);
      assert.equal((await t.request.get(`/v1/voices/${j.voice}`).set(admin())).body.checkpoint_id, j.checkpoint);
      assert.match(await p.textContent('#voice-checkpoint').then(String), new RegExp(`^${j.name}$`));
      assert.match((await p.textContent('#promoted')) ?? '', /Promoted.*automatically/s);
      await tryPromotedVoice(p);
      await check(p, view, '18-voice-promoted');
    }
    lap('journey done');
    for (const l of laps) ctx.diagnostic(l);
  });
  it('without a session no owner page opens: a rater’s browser is sent to sign in from each', async (ctx) => {
    assert.deepEqual(scriptErrors, [], 'no script error on any page');
    const page = await raters.browser.newPage();
    // Every owner page of the journey was checked (the phone's own voice has a page of its own).
    assert.deepEqual(
      [...ownerPaths].sort(),
      [
        '/console',
        '/console/datasets',
        '/console/voices',
        `/console/voices/${j.phoneVoice}`,
        `/console/voices/${j.voice}`,
        `/console/tests/${j.test}`,
        `/datasets/${j.dataset}`,
        `/training-runs/${j.run}`,
        `/v1/listening/tests/${j.test}/report`,
      ].sort(),
    );
    for (const path of ['/console/tests', '/console/keys']) ownerPaths.add(path);
    for (const path of ownerPaths) {
      await page.goto(`${base}${path}`);
      assert.equal(new URL(page.url()).pathname, '/sign-in', `${path} asks for sign-in`);
    }
    await page.close();
    ctx.diagnostic(`${ownerPaths.size} owner pages checked; screenshots in ${SHOTS}`);
  });
  it('a form posted from another site in the signed-in owner’s browser changes nothing (CSRF)', async () => {
    // Another site (localhost is not 127.0.0.1's site) whose page posts a key-creation form to the studio.
    const evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="post" action="${base}/console/keys">
<input name="name" value="forged"><input name="scope" value="admin"><input name="_csrf" value="guessed"></form>
<script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const page = await (owners.desktop as Awaited<ReturnType<typeof launchChromium>>).browser.newPage();
    try {
      const answered = page.waitForResponse(
        (r) => r.url() === `${base}/console/keys` && r.request().method() === 'POST',
      );
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      // The strict session cookie stays home: the studio sees no session (and a foreign Origin).
      assert.ok([303, 401, 403].includes((await answered).status()), `refused: ${(await answered).status()}`);
      assert.equal((await listApiKeys(t.db.db)).filter((k) => k.name === 'forged').length, 0, 'no key was created');
      await page.goto(`${base}/console/keys`);
      assert.equal(new URL(page.url()).pathname, '/console/keys', 'the owner is still signed in');
    } finally {
      await page.close();
      evil.close();
    }
  });
});
