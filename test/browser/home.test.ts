/**
 * The try-a-voice page at `/` in a real browser (Debian's chromium, headless): a key, a voice
 * from the list, text, and audio played as it streams from the real engine on the tiny model.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdaptorServer } from '@hono/node-server';
import type { BrowserContext } from 'playwright-core';
import { createEngine } from '../../inference/index.ts';
import { registerModelDir } from '../../voices/index.ts';
import { testApp } from '../helpers/app.ts';
import { chromiumMissing, launchChromium } from '../helpers/browser.ts';
import { dataDirWithTinyModel, tinyReferenceClip } from '../helpers/tiny.ts';

describe('the try-a-voice page', { skip: chromiumMissing }, () => {
  const engine = createEngine({ workers: 1 });
  const dirs = dataDirWithTinyModel();
  let t: Awaited<ReturnType<typeof testApp>>;
  let server: ReturnType<typeof createAdaptorServer>;
  let browser: BrowserContext;
  let base: string;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  before(async () => {
    t = await testApp({ engine, dataDir: dirs.dataDir, modelDir: dirs.modelDir });
    await registerModelDir(t.db.db, dirs.modelDir);
    const voice = await t.request
      .post('/v1/voices')
      .set(t.auth(t.tokens.admin))
      .field('name', 'Grandma June')
      .field('language', 'en')
      .attach('clips', Buffer.from(tinyReferenceClip()), 'june.wav');
    assert.equal(voice.status, 201);
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
    await engine.close();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  it('lists voices for a key, streams speech and offers the WAV', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.fill('#key', t.tokens.synth);
    await page.dispatchEvent('#key', 'change');
    await page.waitForSelector('#voice option:has-text("Grandma June")', { state: 'attached' });
    await page.fill('#text', 'Hello world, this is a test.');
    await page.fill('#seed', '4');
    await page.click('#go');
    await page.waitForFunction("document.getElementById('status').textContent.startsWith('Done')", null, {
      timeout: 30_000,
    });
    const status = await page.textContent('#status');
    assert.match(status ?? '', /Done: \d+\.\d s of audio, first audio after \d+ ms, real-time factor [\d.]+, seed 4\./);
    assert.equal(await page.isVisible('#download'), true);
    const size = await page.evaluate<number>(
      "fetch(document.getElementById('download').href).then((r) => r.blob()).then((b) => b.size)",
    );
    assert.ok(size > 44 + 2 * 2400, `a WAV of ${size} bytes`);
  });

  it('shows the API error for a wrong key', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.fill('#key', 'xvs_not-a-key');
    await page.dispatchEvent('#key', 'change');
    await page.waitForFunction("/unknown or revoked/.test(document.getElementById('status').textContent)");
  });
});
