/**
 * A rater's whole path and the admin's results page in a real browser (Debian's chromium,
 * headless), against the app on a real HTTP port. espeak-ng speech stands in for rendered
 * checkpoints and for the speaker's recordings.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import type { BrowserContext } from 'playwright-core';
import { schema } from '../../db/index.ts';
import { headphoneAnswers } from '../../listening/index.ts';
import { chromiumMissing, launchChromium } from '../helpers/browser.ts';
import { type ListeningTestApp, listeningTestApp, openedTest } from '../helpers/listening.ts';

describe('listening test in a browser', { skip: chromiumMissing }, () => {
  let t: ListeningTestApp;
  let browser: BrowserContext;
  let base: string;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  before(async () => {
    t = await listeningTestApp();
    await new Promise<void>((resolve) => t.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}`;
    chromium = await launchChromium({ viewport: { width: 390, height: 844 } }); // a phone
    browser = chromium.browser;
  });
  after(async () => {
    await chromium?.close();
    await t.close();
  });

  it('walks a rater from the invitation to the completion code, refusing votes until playback ends', async () => {
    const test = await openedTest(t, {
      sentences: [{ text: 'Yes.' }, { text: 'No.' }, { text: 'Good.' }],
      trials_per_rater: { ab_naturalness: 2, mos: 1 },
      gold_per_rater: 1,
      trap_per_rater: 1,
    });
    const page = await browser.newPage();
    // Everything the page loads, and anything the browser refuses under the pages' CSP.
    const requested: string[] = [];
    const refused: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text());
    });
    page.on('pageerror', (e) => refused.push(e.message));
    // The first vote is stored, but its acknowledgement is lost (a 503, as while the database
    // restarts): the page sends the same answer again, which the server acknowledges as that vote.
    let voteRequests = 0;
    await page.route('**/vote', async (route) => {
      if (voteRequests++ > 0) return route.continue();
      await route.fetch();
      await route.fulfill({
        status: 503,
        headers: { 'content-type': 'application/json', 'retry-after': '1' },
        body: JSON.stringify({ code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable; retry shortly' }),
      });
    });
    await page.goto(`${base}${test.invite_url}?worker_id=W-browser`);
    assert.match(await page.locator('h1').innerText(), /Listening test/);
    assert.match(await page.content(), /headphones/i);
    // Keyboard only: the consent box and the start button.
    await page.locator('input[name=consent]').focus();
    await page.keyboard.press('Space');
    await page.locator('#start').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/listen\/s\/lrt_/);
    assert.match(await page.locator('h1').innerText(), /Headphone check/);

    const [rater] = await t.db.db.select().from(schema.raters).where(eq(schema.raters.workerId, 'W-browser'));
    assert.ok(rater);
    assert.equal(await page.locator('#submit').isDisabled(), true, 'cannot continue before listening');
    const answers = headphoneAnswers(rater.id);
    for (const [q, answer] of answers.entries()) {
      await page.locator('button.play').nth(q).click();
      await page.locator(`#status-${q}`).filter({ hasText: 'played' }).waitFor({ timeout: 10_000 });
      await page.locator(`input[name=q${q}][value="${answer}"]`).check();
    }
    await page.locator('#submit').click();
    await page.waitForSelector('#question');

    const storedVotes = async () =>
      (await t.db.db.select().from(schema.votes).where(eq(schema.votes.raterId, rater.id))).length;
    let answered = 0;
    let checkedStop = false;
    for (;;) {
      if (!(await page.locator('#question').count())) break;
      const progress = await page.locator('progress').getAttribute('value');
      assert.equal(Number(progress), answered);
      const votes = page.locator('button.vote');
      assert.ok(await votes.first().isDisabled(), 'voting is locked before playback');
      // A key press and a forced click before playback store nothing.
      await page.keyboard.press('a');
      await page.keyboard.press('4');
      await votes.first().click({ force: true });
      await page.waitForTimeout(150);
      assert.equal(await storedVotes(), answered);

      const plays = page.locator('button.play');
      const n = await plays.count();
      if (!checkedStop && n >= 2) {
        // On the first trial with two clips (the session's order is shuffled: a rating trial has
        // one): tapping the other clip stops the first, and the first says so, never two "playing".
        checkedStop = true;
        await plays.nth(0).click();
        await plays.nth(1).click();
        const status = async (i: number) =>
          page.locator(`#${await plays.nth(i).getAttribute('aria-describedby')}`).innerText();
        assert.equal(await status(0), 'stopped: play it again to the end');
        assert.match(await status(1), /playing…|played/);
        assert.equal(await plays.nth(0).getAttribute('aria-pressed'), null);
        await page.locator('[data-heard=true]').first().waitFor({ timeout: 15_000 });
        assert.equal(await plays.nth(0).getAttribute('data-heard'), null, 'the stopped clip does not count as heard');
      }
      for (let i = 0; i < n; i++) {
        if (await plays.nth(i).getAttribute('data-heard')) continue; // heard above
        await plays.nth(i).click();
        await page
          .locator(`#${await plays.nth(i).getAttribute('aria-describedby')}`)
          .filter({ hasText: /^played$/ })
          .waitFor({ timeout: 15_000 });
        if ((await page.locator('[data-heard=true]').count()) < n) {
          assert.ok(await votes.first().isDisabled(), 'still locked until every clip has ended');
        }
      }
      assert.equal(await votes.first().isDisabled(), false);
      const first = (await votes.first().getAttribute('data-key')) ?? '';
      // Answer by keyboard: the shortcut printed on the first choice; the page reloads when stored.
      await Promise.all([page.waitForEvent('load'), page.keyboard.press(first)]);
      answered++;
      assert.equal(await storedVotes(), answered);
    }
    assert.match(await page.locator('h1').innerText(), /All done/);
    assert.ok(checkedStop, 'the session had a trial with two clips, where stopping one was checked');
    await page.locator('#finish').click();
    const code = (await page.locator('#completion-code').innerText()).trim();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{20}$/);
    const [done] = await t.db.db.select().from(schema.raters).where(eq(schema.raters.id, rater.id));
    assert.equal(done?.completionCode, code);
    assert.equal(await storedVotes(), answered, 'the vote whose acknowledgement was lost is stored once');
    assert.equal(voteRequests, answered + 1, 'one retry, for the lost acknowledgement');
    assert.deepEqual(refused, [], 'the CSP refused nothing the pages use');
    assert.deepEqual(
      requested.filter((u) => !u.startsWith(`${base}/`)),
      [],
      'no request leaves the origin',
    );
    assert.ok(
      requested.some((u) => u.includes('/listen/assets/')),
      'the script and style are served files',
    );
    await page.close();

    const report = await browser.newPage();
    await report.setExtraHTTPHeaders(t.auth(t.tokens.admin));
    const res = await report.goto(`${base}/v1/listening/tests/${test.id}/report`);
    assert.equal(res?.status(), 200);
    assert.match(await report.locator('h1').innerText(), /Results/);
    assert.ok((await report.locator('svg[role=img] circle').count()) >= 1, 'an interval plot with points');
    const conditions = report.locator('table', { has: report.locator('caption', { hasText: 'Conditions' }) });
    const rows = await conditions.locator('tbody tr').count();
    assert.equal(rows, 4, 'two checkpoints, the base model and the real recording');
    assert.match(await report.locator('#decision').innerText(), /no winner yet|names/);
    await report.close();
  });
});
