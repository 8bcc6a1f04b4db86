import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { limits } from '../../infra/index.ts';

/**
 * The page at `/`: pick a voice, type, hear it as it is made. Audio arrives as server-sent
 * events carrying PCM chunks, scheduled back to back with the Web Audio API, so playback starts
 * with the first chunk instead of after the whole clip. The API key stays in this browser.
 */
export function homeRoutes() {
  return new Hono().get('/', (c) =>
    c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>XTTS voice studio</title>
<style>
 body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
 label{display:block;margin:.8rem 0 .2rem;font-weight:600} input,select,textarea,button{font:inherit;width:100%;box-sizing:border-box;padding:.5rem}
 textarea{min-height:7rem} button{margin-top:1rem;cursor:pointer;background:#1b4d89;color:#fff;border:0;border-radius:6px}
 button:disabled{opacity:.6} .row{display:flex;gap:1rem} .row>div{flex:1} #status{min-height:1.5em;margin-top:.8rem}
 small{color:#555} a{color:#1b4d89}
</style></head><body>
<h1>XTTS voice studio</h1>
<p>Personal voices with XTTS-v2, each speaking with the checkpoint its listeners chose.
<a href="/docs">API documentation</a> · <a href="/console">Owner console</a> (voices, datasets, training, listening tests, keys).</p>
<form id="f">
 <label for="key">API key <small>(synth or admin; kept in this browser only)</small></label>
 <input id="key" type="password" autocomplete="off" placeholder="xvs_…" required>
 <label for="voice">Voice</label>
 <select id="voice" required><option value="">— enter a key to list voices —</option></select>
 <label for="text">Text</label>
 <textarea id="text" required maxlength="${limits.text.maxChars}">Hello! This is my own voice, made from my recordings.</textarea>
 <div class="row">
  <div><label for="speed">Speed</label><input id="speed" type="number" min="0.25" max="4" step="0.05" value="1"></div>
  <div><label for="seed">Seed <small>(empty: random)</small></label><input id="seed" type="number" min="0" step="1"></div>
 </div>
 <button id="go" type="submit">Speak</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p><a id="download" hidden download="speech.wav">Download the WAV</a></p>
<script>${raw(script)}</script>
</body></html>`),
  );
}

const script = `
const $ = (id) => document.getElementById(id);
const status = (t) => { $('status').textContent = t; };
$('key').value = localStorage.getItem('xtts-key') || '';
const auth = () => ({ authorization: 'Bearer ' + $('key').value.trim() });
async function loadVoices() {
  if (!$('key').value.trim()) return;
  localStorage.setItem('xtts-key', $('key').value.trim());
  const res = await fetch('/v1/voices', { headers: auth() });
  const body = await res.json();
  if (!res.ok) { status(body.message); return; }
  $('voice').innerHTML = body.data.length
    ? body.data.map((v) => '<option value="' + v.id + '">' + v.name.replace(/[<&]/g, '') + ' (' + v.language + ')</option>').join('')
    : '<option value="">no voices yet: create one with POST /v1/voices</option>';
}
$('key').addEventListener('change', loadVoices);
loadVoices();
function wav(chunks, rate) {
  const n = chunks.reduce((a, c) => a + c.length, 0), buf = new ArrayBuffer(44 + n * 2), v = new DataView(buf);
  const s = (o, t) => { for (let i = 0; i < t.length; i++) v.setUint8(o + i, t.charCodeAt(i)); };
  s(0, 'RIFF'); v.setUint32(4, 36 + n * 2, true); s(8, 'WAVEfmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true);
  v.setUint16(22, 1, true); v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true);
  v.setUint16(34, 16, true); s(36, 'data'); v.setUint32(40, n * 2, true);
  let o = 44; for (const c of chunks) for (const x of c) { v.setInt16(o, x, true); o += 2; }
  return new Blob([buf], { type: 'audio/wav' });
}
$('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('go').disabled = true; $('download').hidden = true; status('Generating…');
  const body = { text: $('text').value, voice: $('voice').value, stream: true, stream_format: 'sse', format: 'pcm', speed: Number($('speed').value) };
  if ($('seed').value !== '') body.seed = Number($('seed').value);
  const t0 = performance.now();
  try {
    const res = await fetch('/v1/tts', { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) { status((await res.json()).message); return; }
    const rate = Number(res.headers.get('x-sample-rate') || 24000), seed = res.headers.get('x-seed');
    const ctx = new AudioContext({ sampleRate: rate }); let at = ctx.currentTime + 0.05; const pcm = []; let first = 0;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader(); let buffer = '';
    for (;;) {
      const { value, done } = await reader.read(); if (done) break;
      buffer += value; const events = buffer.split('\\n\\n'); buffer = events.pop();
      for (const ev of events) {
        const msg = JSON.parse(ev.replace(/^data: /, ''));
        if (msg.type === 'speech.audio.delta') {
          const bytes = Uint8Array.from(atob(msg.audio), (ch) => ch.charCodeAt(0));
          const ints = new Int16Array(bytes.buffer, 0, bytes.length >> 1); pcm.push(ints);
          const b = ctx.createBuffer(1, ints.length, rate); const d = b.getChannelData(0);
          for (let i = 0; i < ints.length; i++) d[i] = ints[i] / 32768;
          const src = ctx.createBufferSource(); src.buffer = b; src.connect(ctx.destination);
          at = Math.max(at, ctx.currentTime); src.start(at); at += b.duration;
          if (!first) { first = performance.now() - t0; status('Playing… first audio after ' + Math.round(first) + ' ms'); }
        } else if (msg.type === 'speech.audio.done') {
          const t = msg.timings;
          status('Done: ' + t.audio_seconds.toFixed(1) + ' s of audio, first audio after ' + Math.round(first) + ' ms, real-time factor ' + (t.real_time_factor ?? 0).toFixed(2) + ', seed ' + seed + '.');
        }
      }
    }
    $('download').href = URL.createObjectURL(wav(pcm, rate)); $('download').hidden = false;
  } catch (err) { status('Failed: ' + err.message); } finally { $('go').disabled = false; }
});
`;
