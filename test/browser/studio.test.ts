/**
 * The owner pages for datasets and training runs in a real browser (Debian's chromium,
 * headless): live progress over EventSource, clip audio through signed URLs, text edits and
 * exclusions, live loss curves and checkpoints, cancel and resume.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import type { BrowserContext, Page } from 'playwright-core';
import { addMetrics, insertCheckpoint, setDatasetProgress } from '../../db/index.ts';
import { localStorage } from '../../infra/index.ts';
import { testApp } from '../helpers/app.ts';
import { chromiumMissing, launchChromium } from '../helpers/browser.ts';
import { finishBuildAsWorker } from '../helpers/datasets.ts';
import { espeakWav } from '../helpers/speech.ts';

describe('the dataset and training-run pages', { skip: chromiumMissing }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-studio-pages-'));
  const storage = localStorage(dataDir);
  const wav = espeakWav('One clip of the owner speaking clearly.');
  let t: Awaited<ReturnType<typeof testApp>>;
  let server: ReturnType<typeof createAdaptorServer>;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: BrowserContext;
  let base: string;
  let ready = '';
  let live = '';

  before(async () => {
    t = await testApp({ dataDir, eventsPollMs: 50 });
    const create = async (name: string) =>
      (
        await t.request
          .post('/v1/datasets')
          .set(t.auth(t.tokens.admin))
          .field('name', name)
          .field('language', 'en')
          .attach('recordings', Buffer.from(wav), 'a.wav')
      ).body.id as string;
    ready = await create('ready');
    live = await create('live');
    await finishBuildAsWorker(t.db.db, storage, ready, [
      { key: 'c_0001', text: 'One clip of the owner speaking clearly.', wav, durationS: 3.1 },
      { key: 'c_0002', text: 'Another clip.', wav, durationS: 3.1 },
    ]);
    server = createAdaptorServer({ fetch: t.app.fetch });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    chromium = await launchChromium();
    browser = chromium.browser;
  });
  after(async () => {
    await chromium?.close();
    server?.close();
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The page itself is reached with the admin key (as a proxy or extension would send it); nothing else gets it. */
  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    await page.addInitScript(`localStorage.setItem('xtts-key', ${JSON.stringify(t.tokens.admin)})`);
    await page.route(`${base}${path}`, (route) =>
      route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${t.tokens.admin}` } }),
    );
    await page.goto(`${base}${path}`);
    return page;
  }
  const clips = async () => (await t.request.get(`/v1/datasets/${ready}/clips`).set(t.auth(t.tokens.admin))).body.data;

  it('plays clips, saves a corrected text and excludes a clip', async () => {
    const page = await open(`/datasets/${ready}`);
    // Loads the first clip through its signed URL (the page sends no key with <audio>).
    const duration = (await page.evaluate(`(async () => {
      const a = document.querySelector('audio');
      a.preload = 'auto';
      a.load();
      await new Promise((resolve, reject) => {
        a.onloadedmetadata = resolve;
        a.onerror = () => reject(new Error('the clip did not load'));
      });
      return a.duration;
    })()`)) as number;
    assert.ok(duration > 1, `a clip of ${duration} s`);
    const first = page.locator('tr[data-clip]').first();
    await first.locator('input.text').fill('One clip of the owner, speaking clearly.');
    await first.locator('button.save').click();
    await first.locator('button.save:has-text("Saved")').waitFor();
    const second = page.locator('tr[data-clip]').nth(1);
    await second.locator('button.toggle').click();
    await page.waitForSelector('tr[data-clip].out');
    const rows = await clips();
    assert.equal(rows[0].text, 'One clip of the owner, speaking clearly.');
    assert.equal(rows[1].excluded, true);
    await second.locator('button.toggle:has-text("Restore")').click();
    await page.waitForSelector('tr[data-clip].out', { state: 'detached' });
    assert.equal((await clips())[1].excluded, null, 'restored to the build’s decision');
    await page.close();
  });

  it('shows build progress live, then the built dataset', async () => {
    const page = await open(`/datasets/${live}`);
    assert.equal(await page.textContent('#status'), 'queued');
    await setDatasetProgress(t.db.db, live, { status: 'processing', progress: { stage: 'transcribe', fraction: 0.4 } });
    // Locators, not waitForFunction: the owner pages' CSP forbids evaluating strings in the page.
    await page.locator('#stage', { hasText: 'transcribe' }).waitFor();
    assert.equal(await page.textContent('#status'), 'processing');
    assert.equal(await page.evaluate("document.getElementById('fraction').value"), 0.4);
    await finishBuildAsWorker(t.db.db, storage, live, [{ key: 'l_0001', text: 'Built.', wav, durationS: 3.1 }]);
    await page.waitForSelector('#download');
    assert.equal(await page.textContent('#status'), 'ready');
    await page.close();
  });

  it('draws loss curves and checkpoints as they arrive, cancels and resumes', async () => {
    await insertCheckpoint(t.db.db, { name: 'xtts-v2', kind: 'base', status: 'ready', packagePath: 'xtts-v2' });
    const run = await t.request.post('/v1/training-runs').set(t.auth(t.tokens.admin)).send({ dataset_id: ready });
    assert.equal(run.status, 202, JSON.stringify(run.body));
    const page = await open(`/training-runs/${run.body.id}`);
    await addMetrics(t.db.db, run.body.id, [
      { kind: 'train', step: 1, epoch: 0, loss: 3 },
      { kind: 'train', step: 2, epoch: 0, loss: 2.5 },
      { kind: 'eval', step: 2, epoch: 0, loss: 2.7 },
    ]);
    await page.waitForSelector('path[data-series="train loss"][d^="M"]', { state: 'attached' });
    await insertCheckpoint(t.db.db, {
      name: 'run-e1',
      runId: run.body.id,
      epoch: 1,
      step: 2,
      evalLoss: 2.7,
      status: 'ready',
    });
    await page.waitForSelector('tr[data-checkpoint] button.play:not([disabled])');
    await page.waitForSelector('g.marker', { state: 'attached' });
    await page.click('#cancel');
    await page.locator('#status', { hasText: /^cancelled$/ }).waitFor();
    await page.click('#resume');
    await page.locator('#status', { hasText: /^queued$/ }).waitFor();
    const got = await t.request.get(`/v1/training-runs/${run.body.id}`).set(t.auth(t.tokens.admin));
    assert.equal(got.body.status, 'queued');
    await page.close();
  });
});
