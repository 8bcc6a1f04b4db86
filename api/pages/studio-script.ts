/**
 * The owner pages' script, served as /assets/studio.js (pages carry no inline script). Edits
 * and actions send the admin key typed into the page (kept in localStorage, as on `/`); audio,
 * event streams and downloads use the signed URLs the page was rendered with.
 */
export const studioScript = `'use strict';
const $ = (id) => document.getElementById(id);
const keyInput = $('key');
if (keyInput) {
  keyInput.value = localStorage.getItem('xtts-key') || '';
  keyInput.addEventListener('change', () => localStorage.setItem('xtts-key', keyInput.value.trim()));
}
// Signed in, the session cookie goes with every request and the page's CSRF token with each
// change; otherwise the key typed into the page is sent.
const csrf = document.querySelector('meta[name="csrf-token"]');
const headers = (json) => {
  const h = keyInput && keyInput.value.trim() ? { authorization: 'Bearer ' + keyInput.value.trim() } : {};
  if (csrf) h['x-csrf-token'] = csrf.content;
  if (json) h['content-type'] = 'application/json';
  return h;
};
async function call(method, url, body) {
  const res = await fetch(url, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.message || 'HTTP ' + res.status);
  return data;
}
const report = (err) => alert(err.message);
// A form field the owner changed from what the page showed.
const changed = (input) => {
  if (input.tagName !== 'SELECT') return input.value !== input.defaultValue;
  const shown = [...input.options].findIndex((o) => o.defaultSelected);
  return input.selectedIndex !== Math.max(shown, 0);
};
// Sets a dotted path ('listening_test.trials_per_rater.mos') in a nested object.
const setPath = (obj, path, value) => {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys[keys.length - 1]] = value;
};

const live = $('live');
if (live) {
  const id = live.dataset.dataset;
  if (!['ready', 'failed'].includes($('status').textContent)) {
    const es = new EventSource(live.dataset.events);
    es.addEventListener('progress', (e) => {
      const p = JSON.parse(e.data);
      $('status').textContent = p.status;
      if (p.fraction !== null) $('fraction').value = p.fraction;
      $('stage').textContent = [p.stage, p.message].filter(Boolean).join(': ');
    });
    for (const end of ['done', 'failed']) es.addEventListener(end, () => { es.close(); location.reload(); });
  }
  for (const row of document.querySelectorAll('tr[data-clip]')) {
    const url = '/v1/datasets/' + id + '/clips/' + row.dataset.clip;
    row.querySelector('.save').addEventListener('click', () =>
      call('PATCH', url, { text: row.querySelector('.text').value }).then(() => { row.querySelector('.save').textContent = 'Saved'; }, report));
    const toggle = row.querySelector('.toggle');
    toggle.addEventListener('click', () => {
      const exclude = toggle.dataset.excluded === 'true';
      // Restoring goes back to the build's decision, or overrides it for a clip the build dropped.
      const excluded = exclude ? true : row.dataset.status === 'dropped' ? false : null;
      call('PATCH', url, { excluded }).then((clip) => {
        toggle.dataset.excluded = clip.included ? 'true' : 'false';
        toggle.textContent = clip.included ? 'Exclude' : 'Restore';
        row.className = clip.included ? 'in' : 'out';
      }, report);
    });
  }
}

const run = $('run');
if (run) {
  const id = run.dataset.run;
  let timer = 0;
  const redraw = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const res = await fetch(run.dataset.curves);
      if (res.ok) $('curves').innerHTML = await res.text();
    }, 1000);
  };
  const fmt = (v, d) => (typeof v === 'number' ? v.toFixed(d) : '–');
  // Cancel shows while the run trains, Resume once it stopped early; neither on a finished run.
  const showStatus = (status) => {
    $('status').textContent = status;
    $('cancel').hidden = !['queued', 'running'].includes(status);
    $('resume').hidden = !['cancelled', 'failed'].includes(status);
  };
  const upsert = (k) => {
    let row = document.querySelector('tr[data-checkpoint="' + k.id + '"]');
    if (!row) {
      row = document.createElement('tr');
      row.dataset.checkpoint = k.id;
      $('checkpoint-rows').append(row);
    }
    row.replaceChildren(...[k.name, k.epoch ?? '–', k.step ?? '–', fmt(k.train_loss, 3), fmt(k.eval_loss, 3), k.status].map((v) => {
      const td = document.createElement('td'); td.textContent = String(v); return td;
    }));
    const td = document.createElement('td'); const b = document.createElement('button');
    b.type = 'button'; b.className = 'play'; b.textContent = 'Play'; b.disabled = k.status !== 'ready';
    td.append(b); row.append(td);
  };
  let es;
  const listen = () => {
    if (es) es.close();
    es = new EventSource(run.dataset.events + '&after=' + run.dataset.after);
    es.addEventListener('progress', (e) => {
      const p = JSON.parse(e.data);
      showStatus(p.status);
      $('progress').textContent = 'step ' + (p.step ?? '–') + ' · epoch ' + (p.epoch ?? '–') + ' · loss ' + fmt(p.loss, 3) +
        ' (text ' + fmt(p.loss_text, 3) + ', mel ' + fmt(p.loss_mel, 3) + ')' +
        ' · ' + fmt(p.samples_per_s, 1) + ' samples/s · GPU ' + fmt(p.gpu_mem_mb, 0) + ' MB · ETA ' +
        (typeof p.eta_s === 'number' ? Math.round(p.eta_s / 60) + ' min' : '–');
    });
    es.addEventListener('metrics', (e) => {
      const points = JSON.parse(e.data).points;
      run.dataset.after = points[points.length - 1].id;
      redraw();
    });
    es.addEventListener('checkpoint', (e) => { upsert(JSON.parse(e.data)); redraw(); });
    for (const end of ['done', 'failed', 'cancelled']) {
      es.addEventListener(end, (e) => { showStatus(JSON.parse(e.data).status); es.close(); });
    }
  };
  listen();
  $('cancel').addEventListener('click', () =>
    call('POST', '/v1/training-runs/' + id + '/cancel').then((r) => { showStatus(r.status); }, report));
  $('resume').addEventListener('click', () =>
    call('POST', '/v1/training-runs/' + id + '/resume').then((r) => { showStatus(r.status); listen(); }, report));
  $('player').addEventListener('ended', () => { $('player-status').textContent = 'Played ' + $('player').dataset.name + '.'; });
  document.addEventListener('click', async (e) => {
    const button = e.target.closest('button.play');
    if (!button) return;
    button.disabled = true;
    try {
      // The same sentence and seed for every checkpoint, so that they differ only by the checkpoint.
      const res = await fetch('/v1/audio/speech', {
        method: 'POST', headers: headers(true),
        body: JSON.stringify({ model: button.closest('tr').dataset.checkpoint, voice: $('voice').value.trim(),
          input: $('sentence').value, response_format: 'wav', seed: 0 }),
      });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || 'HTTP ' + res.status);
      // Which checkpoint speaks, in words: one player serves every row.
      const name = button.closest('tr').firstElementChild.textContent;
      $('player').src = URL.createObjectURL(await res.blob());
      $('player').dataset.name = name;
      $('player-status').textContent = 'Playing ' + name + '.';
      await $('player').play();
    } catch (err) { report(err); } finally { button.disabled = false; }
  });
}
// The console's voice form: the clips go to the API as they are; the reference check's warnings are shown.
const createVoice = $('create-voice');
// Clips recorded here: MediaRecorder gives compressed audio (WebM/Opus in Chromium), which the
// browser decodes and this script writes as 16-bit mono WAV, a format every server check reads.
const recorded = [];
function wavOf(buffer) {
  const ch = buffer.numberOfChannels, n = buffer.length, rate = buffer.sampleRate;
  const out = new DataView(new ArrayBuffer(44 + n * 2));
  const s = (o, t) => { for (let i = 0; i < t.length; i++) out.setUint8(o + i, t.charCodeAt(i)); };
  s(0, 'RIFF'); out.setUint32(4, 36 + n * 2, true); s(8, 'WAVEfmt '); out.setUint32(16, 16, true); out.setUint16(20, 1, true);
  out.setUint16(22, 1, true); out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true);
  out.setUint16(34, 16, true); s(36, 'data'); out.setUint32(40, n * 2, true);
  const data = []; for (let c = 0; c < ch; c++) data.push(buffer.getChannelData(c));
  for (let i = 0; i < n; i++) {
    let v = 0; for (let c = 0; c < ch; c++) v += data[c][i];
    v = Math.max(-1, Math.min(1, v / ch));
    out.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  return new Blob([out.buffer], { type: 'audio/wav' });
}
const recordButton = $('record');
// Recording needs MediaRecorder and the microphone API, which browsers offer on https (and
// localhost) only: elsewhere the button goes and the page says to choose files instead.
if (recordButton && !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder)) {
  recordButton.hidden = true;
  $('record-help').textContent = 'This browser cannot record here (recording needs https and a microphone): choose recorded files above instead.';
} else if (recordButton) {
  let recorder = null;
  recordButton.addEventListener('click', async () => {
    if (recorder) { recorder.stop(); return; }
    let stream;
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); }
    catch (err) { $('voice-result').textContent = 'No microphone: ' + err.message; return; }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener('dataavailable', (e) => chunks.push(e.data));
    recorder.addEventListener('stop', async () => {
      for (const t of stream.getTracks()) t.stop();
      recorder = null;
      recordButton.textContent = 'Record a clip'; recordButton.setAttribute('aria-pressed', 'false');
      try {
        const ctx = new AudioContext();
        const audio = await ctx.decodeAudioData(await new Blob(chunks).arrayBuffer());
        const blob = wavOf(audio);
        const name = 'recording-' + (recorded.length + 1) + '.wav';
        recorded.push({ blob, name });
        const li = document.createElement('li');
        const player = document.createElement('audio'); player.controls = true; player.src = URL.createObjectURL(blob);
        const remove = document.createElement('button'); remove.type = 'button'; remove.className = 'secondary';
        remove.textContent = 'Remove'; remove.setAttribute('aria-label', 'Remove ' + name);
        remove.addEventListener('click', () => { recorded.splice(recorded.findIndex((r) => r.blob === blob), 1); li.remove(); });
        li.append(name + ' (' + audio.duration.toFixed(1) + ' s) ', player, ' ', remove);
        $('recordings').append(li);
      } catch (err) { $('voice-result').textContent = 'The recording could not be read: ' + err.message; }
    });
    recorder.start();
    recordButton.textContent = 'Stop recording'; recordButton.setAttribute('aria-pressed', 'true');
  });
}
if (createVoice) {
  createVoice.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('voice-result');
    const button = createVoice.querySelector('button[type=submit]');
    button.disabled = true;
    const form = new FormData(createVoice);
    for (const r of recorded) form.append('clips', r.blob, r.name);
    if (!form.getAll('clips').some((f) => f.size > 0)) {
      out.textContent = 'Choose or record at least one clip.';
      button.disabled = false;
      return;
    }
    out.textContent = 'Uploading and checking the clips…';
    try {
      const res = await fetch('/v1/voices', { method: 'POST', headers: headers(false), body: form });
      const data = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(data.message || 'HTTP ' + res.status);
      out.replaceChildren();
      const p = document.createElement('p');
      const a = document.createElement('a');
      a.href = '/console/voices/' + data.id; a.textContent = data.name;
      p.append('Created ', a, '.');
      out.append(p);
      const warnings = data.warnings || [];
      if (warnings.length) {
        const box = document.createElement('div'); box.className = 'warn';
        const h = document.createElement('p'); h.textContent = 'The reference check warns:'; box.append(h);
        const ul = document.createElement('ul');
        for (const w of warnings) {
          const li = document.createElement('li');
          li.textContent = typeof w === 'string' ? w : [w.code, w.message].filter(Boolean).join(': ');
          ul.append(li);
        }
        box.append(ul); out.append(box);
      }
    } catch (err) { out.textContent = 'Not created: ' + err.message; } finally { button.disabled = false; }
  });
}

// The voice page's "try it": speaks the text with the voice (and a chosen checkpoint).
const tryVoice = $('try-voice');
if (tryVoice) {
  tryVoice.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = tryVoice.querySelector('button');
    button.disabled = true; $('try-status').textContent = 'Speaking…'; $('try-download').hidden = true;
    try {
      // xtts-v2: the voice's own checkpoint (the promoted one); a checkpoint id renders with that one.
      const body = { model: $('try-checkpoint').value || 'xtts-v2', voice: tryVoice.dataset.voice, input: $('try-text').value, response_format: 'wav' };
      const res = await fetch('/v1/audio/speech', { method: 'POST', headers: headers(true), body: JSON.stringify(body) });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || 'HTTP ' + res.status);
      const url = URL.createObjectURL(await res.blob());
      $('try-player').src = url; $('try-download').href = url; $('try-download').hidden = false;
      $('try-status').textContent = 'Done.';
      // Which checkpoint spoke, as the server says (its name when the page lists it).
      const used = res.headers.get('x-checkpoint-id') || '';
      const option = [...$('try-checkpoint').options].find((o) => o.value && o.value === used);
      $('try-used').textContent = used ? 'Spoken with ' + (option ? option.textContent : used) + '.' : '';
      await $('try-player').play().catch(() => undefined);
    } catch (err) { $('try-status').textContent = 'Failed: ' + err.message; } finally { button.disabled = false; }
  });
}

// A listening test's live progress: votes, raters and flagged raters, refreshed every few seconds.
const progress = document.querySelector('[data-refresh]');
if (progress) {
  setInterval(async () => {
    const res = await fetch(progress.dataset.refresh, { headers: { accept: 'text/html' } }).catch(() => null);
    // A redirect means the session ended: the sign-in page is not put into the progress box.
    if (res && res.ok && !res.redirected) progress.innerHTML = await res.text();
  }, 5000);
}
// A new dataset: the recordings are uploaded with XMLHttpRequest, whose upload events give progress
// (fetch has none); then the dataset's page shows the build's own progress.
const createDataset = $('create-dataset');
if (createDataset) {
  createDataset.addEventListener('submit', (e) => {
    e.preventDefault();
    const button = createDataset.querySelector('button');
    const bar = $('upload-progress');
    const say = (t) => { $('upload-status').textContent = t; };
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/datasets');
    for (const [k, v] of Object.entries(headers(false))) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (p) => {
      if (p.lengthComputable) { bar.value = p.loaded / p.total; say(Math.round((100 * p.loaded) / p.total) + ' %'); }
    });
    xhr.addEventListener('load', () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch {}
      if (xhr.status >= 200 && xhr.status < 300) { say('Uploaded: building…'); location.href = '/datasets/' + data.id; }
      else { say('Not uploaded: ' + (data.message || 'HTTP ' + xhr.status)); button.disabled = false; }
    });
    xhr.addEventListener('error', () => { say('Upload failed: the connection was lost.'); button.disabled = false; });
    // The advanced fields carry no name: the ones changed go as one JSON options field.
    const form = new FormData(createDataset);
    const options = {};
    for (const input of createDataset.querySelectorAll('[data-option]')) {
      if (!changed(input)) continue;
      setPath(options, input.dataset.option, input.tagName === 'SELECT' || input.dataset.kind === 'text' ? input.value.trim() : Number(input.value));
    }
    if (Object.keys(options).length) form.append('options', JSON.stringify(options));
    button.disabled = true; bar.value = 0; say('0 %');
    xhr.send(form);
  });
}

// Start a training run: sensible defaults, the advanced fields sent only when changed.
const startRun = $('start-run');
if (startRun) {
  startRun.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(startRun);
    const body = { dataset_id: f.get('dataset_id'), name: f.get('name') || 'run', options: {} };
    if (f.get('voice_id')) body.voice_id = f.get('voice_id');
    for (const input of startRun.querySelectorAll('details input, details select')) {
      if (!changed(input) || input.value.trim() === '') continue;
      setPath(body.options, input.name, input.tagName === 'SELECT' ? input.value : Number(input.value));
    }
    if ($('run-auto-promote').checked) setPath(body.options, 'listening_test.auto_promote', true);
    try {
      const run = await call('POST', '/v1/training-runs', body);
      location.href = '/training-runs/' + run.id;
    } catch (err) { $('run-status').textContent = 'Not started: ' + err.message; }
  });
}
`;
