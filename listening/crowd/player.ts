import { html, raw } from 'hono/html';

/**
 * The page's only script: plays clips and unlocks answering once every clip has played to
 * its end ('ended', not a click). Votes are sent as JSON; a retry after a network error
 * re-sends the same answer, which the server treats as the same vote.
 */
export function playerScript(options: { mode: 'form' } | { mode: 'vote'; voteUrl: string }) {
  const config = JSON.stringify(options).replaceAll('<', '\\u003c');
  return html`<script>
(() => {
  const cfg = ${raw(config)};
  const shown = performance.now();
  const audio = new Audio();
  const heard = new Set();
  let played = 0, startedAt = 0, current = null, sending = false;
  const plays = [...document.querySelectorAll('button.play')];
  const votes = [...document.querySelectorAll('button.vote')];
  const say = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
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
    if (current) current.removeAttribute('aria-pressed');
    current = b;
    b.setAttribute('aria-pressed', 'true');
    say(b.getAttribute('aria-describedby'), 'playing…');
    audio.src = b.dataset.src;
    startedAt = performance.now();
    audio.play().catch(() => say(b.getAttribute('aria-describedby'), 'could not play; try again'));
  }));
  if (cfg.mode === 'form') return;
  const send = async (answer) => {
    if (sending || heard.size < plays.length) return;
    sending = true;
    votes.forEach((b) => { b.disabled = true; });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const res = await fetch(cfg.voteUrl, { method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ answer, played_ms: Math.round(played), page_ms: Math.round(performance.now() - shown) }) });
        if (res.ok) { location.reload(); return; }
        const body = await res.json().catch(() => ({}));
        if (res.status < 500 && res.status !== 429) { say('error', body.message || 'The answer was not accepted.'); location.reload(); return; }
      } catch {}
      await new Promise((r) => setTimeout(r, 800 * (attempt + 1)));
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
</script>`;
}
