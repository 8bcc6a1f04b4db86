import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium; browser tests skip themselves (saying why) where it is not installed. */
export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`;

/**
 * Headless chromium on a fresh profile, with the flags a closed network needs: no background
 * connections, no component updates, no sync. `close` also removes the profile.
 */
export async function launchChromium(
  options: { viewport?: { width: number; height: number }; args?: string[] } = {},
): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...(options.viewport ? { viewport: options.viewport } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--mute-audio',
      '--autoplay-policy=no-user-gesture-required',
      ...(options.args ?? []),
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations on the page. Its script is evaluated, not injected:
 * the pages' Content-Security-Policy allows no inline script.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const found = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })))",
  )) as { id: string; impact: string; nodes: string[] }[];
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.join(', ')}`);
}

/** The owner pages' controls; a crowd page's radio buttons and check boxes are tapped by their labels. */
export const OWNER_TARGETS =
  'main button, main select, main input:not([type=hidden]), main textarea, header a, header button, main ul.links a, main summary';
export const CROWD_TARGETS =
  'main button, main a, main label:has(input[type=radio]), main label:has(input[type=checkbox])';

/** What a phone needs: nothing wider than the screen, and every control at least 44 px tall and wide. */
export async function phoneProblems(page: Page, targets = OWNER_TARGETS): Promise<string[]> {
  return (await page.evaluate(`(() => {
    const problems = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth) problems.push('page scrolls sideways: ' + doc.scrollWidth + ' > ' + window.innerWidth);
    for (const el of document.querySelectorAll(${JSON.stringify(targets)})) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.height < 44 || r.width < 44) problems.push((el.id || el.textContent.trim().slice(0, 40) || el.tagName) + ' is ' + Math.round(r.width) + 'x' + Math.round(r.height));
    }
    return problems;
  })()`)) as string[];
}
