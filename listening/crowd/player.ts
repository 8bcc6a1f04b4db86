import { createHash } from 'node:crypto';
import { html } from 'hono/html';

/**
 * The crowd pages' only script, served as a file (the pages' Content-Security-Policy allows no
 * inline script). It plays clips and unlocks answering once every clip has played to its end
 * ('ended', not a click). Votes are sent as JSON; after a network error, a 503 or a 429 it
 * sends the same answer again (waiting as Retry-After says), which the server stores once:
 * one vote per trial, so a retry of a vote that was stored returns that vote.
 *
 * Its settings come from the script element's data attributes: data-mode ('form' or 'vote')
 * and data-vote-url.
 */
export const PLAYER_JS = `(() => {
  const el = document.currentScript;
  const cfg = { mode: el.dataset.mode, voteUrl: el.dataset.voteUrl };
  const shown = performance.now();
  const audio = new Audio();
  const heard = new Set();
  let played = 0, startedAt = 0, current = null, sending = false;
  const plays = [...document.querySelectorAll('button.play')];
  const votes = [...document.querySelectorAll('button.vote')];
  const say = (id, text) => { const e = document.getElementById(id); if (e) e.textContent = text; };
  const unlock = () => {
    if (heard.size < plays.length) return;
    votes.forEach((b) => { b.disabled = false; });
    say('locked', 'You can answer now.');
  };
  audio.addEventListener('ended', () => {
    if (!current) return;
    played += performance.now() - startedAt;
    heard.add(current.dataset.src);
    current.dataset.heard = 'true';
    say(current.getAttribute('aria-describedby'), 'played');
    current.removeAttribute('aria-pressed');
    current = null;
    unlock();
  });
  plays.forEach((b) => b.addEventListener('click', () => {
    // One clip plays at a time: the one it replaces says so, rather than still reading "playing".
    if (current && current !== b) {
      current.removeAttribute('aria-pressed');
      say(current.getAttribute('aria-describedby'), heard.has(current.dataset.src) ? 'played' : 'stopped: play it again to the end');
    }
    current = b;
    b.setAttribute('aria-pressed', 'true');
    say(b.getAttribute('aria-describedby'), 'playing…');
    audio.src = b.dataset.src;
    startedAt = performance.now();
    // A play cut short by another clip rejects too: only the clip still meant to play reports.
    audio.play().catch(() => { if (current === b) say(b.getAttribute('aria-describedby'), 'could not play; try again'); });
  }));
  if (cfg.mode !== 'vote') return;
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const send = async (answer) => {
    if (sending || heard.size < plays.length) return;
    sending = true;
    votes.forEach((b) => { b.disabled = true; });
    const body = JSON.stringify({ answer, played_ms: Math.round(played), page_ms: Math.round(performance.now() - shown) });
    for (let attempt = 0; attempt < 8; attempt++) {
      let retryAfter = 0;
      try {
        const res = await fetch(cfg.voteUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (res.ok) { location.reload(); return; }
        const err = await res.json().catch(() => ({}));
        if (res.status !== 503 && res.status !== 429) { say('error', err.message || 'The answer was not accepted.'); location.reload(); return; }
        retryAfter = 1000 * (Number(res.headers.get('retry-after')) || 0);
        say('error', 'Saving your answer…');
      } catch {}
      await wait(Math.min(10000, Math.max(retryAfter, 500 * 2 ** attempt)));
    }
    say('error', 'Could not send the answer. Check the connection and try again.');
    sending = false;
    unlock();
  };
  votes.forEach((b) => b.addEventListener('click', () => send(b.dataset.answer)));
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const b = votes.find((v) => v.dataset.key === e.key.toLowerCase());
    if (b && !b.disabled) send(b.dataset.answer);
  });
})();
`;

/** The pages' stylesheet, also a served file. */
export const CROWD_CSS = `body{font:17px/1.5 system-ui,sans-serif;max-width:38rem;margin:0 auto;padding:1rem;color:#111;background:#fff}
h1{font-size:1.4rem}button,.button{font:inherit;min-height:3rem;min-width:3rem;padding:.5rem 1rem;margin:.25rem;border:2px solid #1f3d7a;border-radius:.5rem;background:#e8eefc;color:#111;cursor:pointer}
button:disabled{opacity:.45;cursor:not-allowed}button[aria-pressed=true]{background:#1f3d7a;color:#fff}
:focus-visible{outline:3px solid #b5179e;outline-offset:2px}
.clips,.choices{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}.choices button{flex:1 1 5rem}
fieldset{border:1px solid #bbb;border-radius:.5rem;margin:1rem 0}progress{width:100%;height:1rem}
.hint{color:#444;font-size:.95rem}.code{font:700 clamp(1.1rem,5vw,1.6rem) monospace;letter-spacing:.1em;padding:.5rem;border:2px dashed #1f3d7a;display:inline-block;max-width:100%;box-sizing:border-box;overflow-wrap:anywhere}
.error{color:#a00}.tone{margin-right:1rem}
label:has(>input[type=radio]),label:has(>input[type=checkbox]){display:inline-flex;align-items:center;gap:.5rem;min-height:44px;min-width:44px;cursor:pointer}
input[type=radio],input[type=checkbox]{width:1.3rem;height:1.3rem;margin:0;flex:none}
`;

const version = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * The served files by path. A name carries its content's hash, so a changed file is a new URL
 * and browsers may cache each one for good.
 */
export const CROWD_ASSETS: Record<string, { body: string; type: string }> = {
  [`/listen/assets/player-${version(PLAYER_JS)}.js`]: { body: PLAYER_JS, type: 'text/javascript; charset=utf-8' },
  [`/listen/assets/crowd-${version(CROWD_CSS)}.css`]: { body: CROWD_CSS, type: 'text/css; charset=utf-8' },
};
const pathOf = (type: string) => Object.keys(CROWD_ASSETS).find((p) => CROWD_ASSETS[p]?.type.startsWith(type)) ?? '';
export const PLAYER_PATH = pathOf('text/javascript');
export const CSS_PATH = pathOf('text/css');

/**
 * What the crowd pages may load: their own scripts, styles, audio and form targets, nothing
 * inline and nothing from another origin. No frame-ancestors rule: crowd platforms show the
 * study inside a frame.
 */
export const CROWD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
  "connect-src 'self'; form-action 'self'; base-uri 'none'";

/** The script element of a page: the served player with its settings. */
export function playerScript(options: { mode: 'form' } | { mode: 'vote'; voteUrl: string }) {
  return options.mode === 'vote'
    ? html`<script src="${PLAYER_PATH}" data-mode="vote" data-vote-url="${options.voteUrl}"></script>`
    : html`<script src="${PLAYER_PATH}" data-mode="form"></script>`;
}
