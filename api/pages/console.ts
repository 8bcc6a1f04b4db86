/** The owner's console pages: sign-in, home, listening tests, keys and voices (server-rendered). */
import { html, raw } from 'hono/html';
import type {
  ApiKeyView,
  Checkpoint,
  Dataset,
  ListeningTest,
  Promotion,
  Rater,
  TrainingRun,
  Voice,
} from '../../db/index.ts';
import { chunkers, XTTS_LANGUAGES } from '../datasets/options.ts';
import { type Frame, layout } from './layout.ts';

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : '–');
const csrfField = (frame: Frame) => html`<input type="hidden" name="_csrf" value="${frame.csrf ?? ''}">`;

export function signInPage(input: { next: string; token: string; error?: string }) {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
<p>Sign in to the studio's console with an admin API key (create one with <code>npm run keys</code>). The key is
checked once; the browser then keeps a session cookie for 12 hours, not the key.</p>
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<form method="post" action="/sign-in">
<input type="hidden" name="_csrf" value="${input.token}"><input type="hidden" name="next" value="${input.next}">
<label for="sign-in-key">Admin API key</label>
<input id="sign-in-key" name="key" type="password" autocomplete="current-password" required placeholder="xvs_…">
<p><button type="submit">Sign in</button></p>
</form>`,
  );
}

export function consoleHome(
  frame: Frame,
  data: { voices: Voice[]; datasets: Dataset[]; runs: TrainingRun[]; tests: ListeningTest[] },
) {
  const list = <T>(items: T[], empty: string, item: (x: T) => unknown) =>
    items.length ? html`<ul class="links">${items.map((x) => html`<li>${item(x)}</li>`)}</ul>` : html`<p>${empty}</p>`;
  return layout(
    'Console',
    html`<h1>Console</h1>
<div class="row">
<section><h2>Voices</h2>${list(data.voices, 'No voices yet.', (v) => html`<a href="/console/voices/${v.id}">${v.name}</a> <small>${v.language}</small>`)}
<p><a href="/console/voices">Create a voice</a></p></section>
<section><h2>Listening tests</h2>${list(data.tests, 'No listening tests yet.', (t) => html`<a href="/console/tests/${t.id}">${t.name}</a> <small>${t.status}</small>`)}</section>
</div>
<div class="row">
<section><h2>Datasets</h2>${list(data.datasets, 'No datasets yet.', (d) => html`<a href="/datasets/${d.id}">${d.name}</a> <small>${d.status}</small>`)}
<p><a href="/console/datasets">Upload recordings, start training</a></p></section>
<section><h2>Training runs</h2>${list(data.runs, 'No training runs yet.', (r) => html`<a href="/training-runs/${r.id}">${r.name}</a> <small>${r.status}</small>`)}</section>
</div>
<p><a href="/console/keys">API keys</a> · <a href="/docs">API documentation</a> · <a href="/">Speak page</a></p>`,
    frame,
  );
}

/** An ended run whose ready checkpoints no listening test has put before listeners yet. */
export type UntestedRun = { run: TrainingRun; ready: number; voice: string | undefined };

export function testsPage(
  frame: Frame,
  tests: ListeningTest[],
  voices: Map<string, string>,
  untested: UntestedRun[] = [],
) {
  return layout(
    'Listening tests',
    html`<h1>Listening tests</h1>
${
  tests.length
    ? html`<div class="scroll"><table tabindex="0"><thead><tr><th>test</th><th>voice</th><th>status</th><th>created</th></tr></thead><tbody>
${tests.map((t) => html`<tr><td><a href="/console/tests/${t.id}">${t.name}</a></td><td>${voices.get(t.voiceId) ?? t.voiceId}</td><td>${t.status}</td><td>${when(t.createdAt)}</td></tr>`)}
</tbody></table></div>`
    : html`<p>No listening tests yet.</p>`
}
<h2>From a training run</h2>
<p>A run for a voice gets its test when it ends. For an ended run without one, create it here in one step: its
checkpoints, the voice's current checkpoint and the base model, on the dataset's held-out sentences.</p>
${
  untested.length
    ? html`<ul class="links" id="untested-runs">${untested.map(
        (
          u,
        ) => html`<li><a href="/training-runs/${u.run.id}">${u.run.name}</a> <small>${u.run.status} · ${u.ready} checkpoint${u.ready === 1 ? '' : 's'}${u.voice ? html` · for ${u.voice}` : ''}</small>
${
  u.voice && frame.csrf
    ? html`<form method="post" action="/console/training-runs/${u.run.id}/listening-test">${csrfField(frame)}<button type="submit" aria-label="Create a listening test of ${u.run.name}">Create a listening test</button></form>`
    : html`<small>(choose its voice on <a href="/training-runs/${u.run.id}">the run's page</a>)</small>`
}</li>`,
      )}</ul>`
    : html`<p>Every ended run with checkpoints has its test.</p>`
}`,
    frame,
  );
}

export type TestProgress = {
  votes: number;
  raters: { total: number; completed: number; flagged: number };
  flagged: Rater[];
};

/** The part of the test page that refreshes itself while raters vote. */
export function testProgress(p: TestProgress) {
  return html`<p><strong>${p.votes}</strong> votes · <strong>${p.raters.total}</strong> raters
(${p.raters.completed} completed, ${p.raters.flagged} flagged)</p>
${
  p.flagged.length
    ? html`<div class="scroll"><table tabindex="0"><caption>Flagged raters (their votes are kept but not counted)</caption>
<thead><tr><th>rater</th><th>flagged</th><th>reason</th></tr></thead><tbody>
${p.flagged.map((r) => html`<tr><td><code>${r.id.slice(0, 8)}</code></td><td>${when(r.flaggedAt)}</td><td>${r.flagReason ?? 'flagged'}</td></tr>`)}
</tbody></table></div>`
    : html`<p>No rater flagged.</p>`
}`;
}

export function testPage(
  frame: Frame,
  input: {
    test: ListeningTest;
    voice: Voice | undefined;
    invitation: string;
    /** The invitation link as a QR code (an SVG drawn on the server). */
    qrSvg: string;
    progress: TestProgress;
    promotions: Promotion[];
    checkpoints: Map<string, string>;
    notice?: string | undefined;
    error?: string | undefined;
  },
) {
  const t = input.test;
  const ck = (id: string | null) => (id ? (input.checkpoints.get(id) ?? id.slice(0, 8)) : 'base model');
  return layout(
    `Listening test: ${t.name}`,
    html`<h1>Listening test: ${t.name}</h1>
<p>Voice ${input.voice ? html`<a href="/console/voices/${input.voice.id}">${input.voice.name}</a>` : t.voiceId} ·
status <span class="status">${t.status}</span> · speaking with ${ck(input.voice?.checkpointId ?? null)}</p>
${input.notice ? html`<p class="notice" role="status">${input.notice}</p>` : ''}
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
${promotedBy(input.promotions, t.id, input.voice?.checkpointId ?? null, ck)}
<h2>Invitation</h2>
<p>Send this link to listeners${t.status === 'open' ? '' : html` <small>(it works once the test is open)</small>`}:</p>
<p><label for="invite">Invitation link</label><input id="invite" type="url" readonly value="${input.invitation}"></p>
<figure class="qr" role="img" aria-label="QR code of the invitation link">${raw(input.qrSvg)}</figure>
${
  t.status === 'draft'
    ? html`<form method="post" action="/console/tests/${t.id}/open">${csrfField(frame)}<button type="submit">Open the test to listeners</button></form>`
    : t.status === 'open'
      ? html`<form method="post" action="/console/tests/${t.id}/close">${csrfField(frame)}<button type="submit" class="secondary">Close the test</button> <small>(applies the rule when the test promotes automatically)</small></form>`
      : ''
}
<h2>Progress</h2>
<section id="progress" aria-live="polite" data-refresh="/console/tests/${t.id}/progress">${testProgress(input.progress)}</section>
<p><a href="/v1/listening/tests/${t.id}/report">The results report</a> (statistics, plots, every rater) ·
<a href="/v1/listening/tests/${t.id}/results.csv">CSV</a></p>
<h2>Promotion</h2>
<div class="row">
<form method="post" action="/console/tests/${t.id}/promote">${csrfField(frame)}
<p>Promote the checkpoint the listeners chose (refused when the rule names none).</p><button type="submit">Promote</button></form>
<form method="post" action="/console/voices/${t.voiceId}/rollback">${csrfField(frame)}<input type="hidden" name="back" value="/console/tests/${t.id}">
<p>Undo the voice's latest promotion.</p><button type="submit" class="secondary">Roll back</button></form>
</div>
${auditTrail(input.promotions, ck)}`,
    frame,
  );
}

/**
 * The promotion this test made, if any: which checkpoint, when and by whom, and whether the voice
 * still speaks with it (a later rollback or promotion replaces it).
 */
function promotedBy(
  promotions: Promotion[],
  testId: string,
  current: string | null,
  ck: (id: string | null) => string,
) {
  // Newest first: the test's latest promotion is the one that counts.
  const p = promotions.find((x) => x.action === 'promote' && x.testId === testId);
  if (!p) return '';
  const live = current === p.toCheckpointId;
  return html`<p class="${live ? 'notice' : 'warn'}" id="promoted"><strong>Promoted</strong> by this test: ${ck(p.toCheckpointId)}
(from ${ck(p.fromCheckpointId)}) on ${when(p.createdAt)} by ${p.actor === 'auto' ? 'the rule, automatically' : p.actor}.
${live ? 'The voice speaks with it now.' : 'The voice has changed checkpoint since.'}</p>`;
}

function auditTrail(promotions: Promotion[], ck: (id: string | null) => string) {
  return html`<h2>Audit trail</h2>${
    promotions.length
      ? html`<div class="scroll"><table tabindex="0"><thead><tr><th>when</th><th>action</th><th>from</th><th>to</th><th>by</th></tr></thead><tbody>
${promotions.map((p) => html`<tr><td>${when(p.createdAt)}</td><td>${p.action}</td><td>${ck(p.fromCheckpointId)}</td><td>${ck(p.toCheckpointId)}</td><td>${p.actor}</td></tr>`)}
</tbody></table></div>`
      : html`<p>No promotion or rollback yet.</p>`
  }`;
}

export function keysPage(frame: Frame, keys: ApiKeyView[], created?: { name: string; token: string }) {
  return layout(
    'API keys',
    html`<h1>API keys</h1>
${
  created
    ? html`<div class="notice" role="status"><p>Key “${created.name}” created. Copy it now: it is shown this once.</p>
<code class="secret" id="new-token">${created.token}</code></div>`
    : ''
}
<h2>Create a key</h2>
<form method="post" action="/console/keys">${csrfField(frame)}
<label for="name">Name</label><input id="name" name="name" type="text" required maxlength="100">
<label for="scope">Scope</label><select id="scope" name="scope"><option value="synth">synth (speak only)</option><option value="admin">admin (everything)</option></select>
<p><button type="submit">Create</button></p></form>
<h2>Keys</h2>
<div class="scroll"><table tabindex="0"><thead><tr><th>name</th><th>scope</th><th>prefix</th><th>created</th><th>last used</th><th>state</th></tr></thead><tbody>
${keys.map(
  (
    k,
  ) => html`<tr><td>${k.name}</td><td>${k.scope}</td><td><code>${k.prefix}</code></td><td>${when(k.createdAt)}</td><td>${when(k.lastUsedAt)}</td>
<td>${
    k.revokedAt
      ? html`revoked ${when(k.revokedAt)}`
      : html`<form method="post" action="/console/keys/${k.id}/revoke">${csrfField(frame)}<button type="submit" class="secondary" aria-label="Revoke ${k.name}">Revoke</button></form>`
  }</td></tr>`,
)}
</tbody></table></div>`,
    frame,
  );
}

export function voicesPage(frame: Frame, voices: Voice[]) {
  return layout(
    'Voices',
    html`<h1>Voices</h1>
${voices.length ? html`<ul class="links">${voices.map((v) => html`<li><a href="/console/voices/${v.id}">${v.name}</a> <small>${v.language}</small></li>`)}</ul>` : html`<p>No voices yet.</p>`}
<h2>Create a voice</h2>
<form id="create-voice" method="post" action="/v1/voices" enctype="multipart/form-data">
<label for="voice-name">Name</label><input id="voice-name" name="name" type="text" required maxlength="100">
<label for="voice-language">Language</label><input id="voice-language" name="language" type="text" required value="en" maxlength="10">
<label for="voice-clips">Reference clips <small>(WAV, FLAC, MP3 or OGG; 6–30 s of clear speech each)</small></label>
<input id="voice-clips" name="clips" type="file" accept="audio/*" multiple>
<p id="record-help">Or record clips here (the browser asks for the microphone; read a few sentences in a quiet room):</p>
<p><button type="button" id="record" class="secondary" aria-pressed="false">Record a clip</button></p>
<ul id="recordings" class="links" aria-label="Recorded clips"></ul>
<p><button type="submit">Create the voice</button></p>
</form>
<div id="voice-result" role="status" aria-live="polite"></div>`,
    frame,
  );
}

export function voicePage(
  frame: Frame,
  input: { voice: Voice; clips: number; checkpoints: Checkpoint[]; promotions: Promotion[]; tests: ListeningTest[] },
) {
  const v = input.voice;
  const names = new Map(input.checkpoints.map((k) => [k.id, k.name]));
  const ck = (id: string | null) => (id ? (names.get(id) ?? id.slice(0, 8)) : 'base model');
  const ready = input.checkpoints.filter((k) => k.status === 'ready');
  return layout(
    `Voice: ${v.name}`,
    html`<h1>Voice: ${v.name}</h1>
<p>${v.language} · ${input.clips} reference clip${input.clips === 1 ? '' : 's'} · speaking with <strong id="voice-checkpoint">${ck(v.checkpointId)}</strong></p>
${currentPromotion(input.promotions, v.checkpointId, ck, new Map(input.tests.map((t) => [t.id, t.name])))}
<h2>Try it</h2>
<form id="try-voice" data-voice="${v.id}">
<label for="try-text">Text</label><textarea id="try-text" name="text" required maxlength="2000">Hello! This is my own voice, made from my recordings.</textarea>
<label for="try-checkpoint">Checkpoint</label>
<select id="try-checkpoint" name="checkpoint"><option value="">The voice's own (${ck(v.checkpointId)})</option>
${ready.map((k) => html`<option value="${k.id}">${k.name} (${k.kind})</option>`)}</select>
<p><button type="submit">Speak</button></p>
</form>
<p id="try-status" role="status" aria-live="polite"></p>
<p id="try-used" aria-live="polite"></p>
<p><audio id="try-player" controls></audio> <a id="try-download" hidden download="speech.wav">Download the WAV</a></p>
<h2>Choose the checkpoint</h2>
<p>A voice changes checkpoint only when listeners choose it: promote from one of its listening tests.</p>
${input.tests.length ? html`<ul class="links">${input.tests.map((t) => html`<li><a href="/console/tests/${t.id}">${t.name}</a> <small>${t.status}</small></li>`)}</ul>` : html`<p>No listening test for this voice yet.</p>`}
<form method="post" action="/console/voices/${v.id}/rollback">${csrfField(frame)}<input type="hidden" name="back" value="/console/voices/${v.id}">
<button type="submit" class="secondary">Roll back the latest promotion</button></form>
${auditTrail(input.promotions, ck)}`,
    frame,
  );
}

/** How the voice came to speak with its checkpoint: the latest promotion, when it is still in force. */
function currentPromotion(
  promotions: Promotion[],
  current: string | null,
  ck: (id: string | null) => string,
  tests: Map<string, string>,
) {
  const latest = promotions[0];
  if (latest?.action !== 'promote' || latest.toCheckpointId !== current) return '';
  return html`<p class="notice" id="promoted"><strong>Promoted</strong>: ${ck(current)} on ${when(latest.createdAt)}
${latest.actor === 'auto' ? 'automatically (by the rule)' : html`by ${latest.actor}`}${
  latest.testId
    ? html` after the listening test <a href="/console/tests/${latest.testId}">${tests.get(latest.testId) ?? latest.testId.slice(0, 8)}</a>`
    : ''
}.</p>`;
}

/** Datasets: upload recordings (with upload progress) and start a training run on a ready one. */
export function datasetsPage(frame: Frame, datasets: Dataset[], voices: Voice[], runs: TrainingRun[]) {
  const ready = datasets.filter((d) => d.status === 'ready');
  return layout(
    'Datasets and training',
    html`<h1>Datasets and training</h1>
${
  datasets.length
    ? html`<ul class="links">${datasets.map((d) => html`<li><a href="/datasets/${d.id}">${d.name}</a> <small>${d.language} · ${d.status}</small></li>`)}</ul>`
    : html`<p>No datasets yet.</p>`
}
<h2>New dataset from recordings</h2>
<form id="create-dataset" method="post" action="/v1/datasets" enctype="multipart/form-data">
<label for="dataset-name">Name</label><input id="dataset-name" name="name" type="text" required maxlength="200">
<label for="dataset-language">Language</label>
<select id="dataset-language" name="language">${XTTS_LANGUAGES.map((l) => html`<option value="${l}">${l}</option>`)}</select>
<label for="dataset-chunker">Cut into clips by</label>
<select id="dataset-chunker" name="chunker">${chunkers.map((k) => html`<option value="${k}">${k}</option>`)}</select>
<label for="dataset-recordings">Recordings <small>(long recordings are cut into clips and transcribed)</small></label>
<input id="dataset-recordings" name="recordings" type="file" accept="audio/*" multiple required>
<details><summary>Advanced</summary>
<p><small>Only the fields you change are sent; the rest keep the builder's defaults.</small></p>
<label for="dataset-min-s">Shortest clip (seconds)</label><input id="dataset-min-s" data-option="min_s" type="text" inputmode="decimal" value="3">
<label for="dataset-max-s">Longest clip (seconds)</label><input id="dataset-max-s" data-option="max_s" type="text" inputmode="decimal" value="11.6">
<label for="dataset-eval">Share of clips held out for evaluation</label><input id="dataset-eval" data-option="eval_fraction" type="text" inputmode="decimal" value="0.02">
<label for="dataset-seed">Split seed</label><input id="dataset-seed" data-option="seed" type="text" inputmode="numeric" value="0">
<label for="dataset-asr">Transcription model <small>(tiny.en-bundled: English, no download)</small></label>
<input id="dataset-asr" data-option="asr.model" data-kind="text" type="text" value="large-v3" list="asr-models">
<datalist id="asr-models"><option value="large-v3"></option><option value="tiny.en-bundled"></option></datalist>
<label for="dataset-asr-device">Transcription device</label>
<select id="dataset-asr-device" data-option="asr.device"><option>auto</option><option>cpu</option><option>cuda</option></select>
</details>
<p><button type="submit">Upload and build</button></p>
<p><label for="upload-progress">Upload</label><progress id="upload-progress" max="1" value="0"></progress> <span id="upload-status" role="status" aria-live="polite"></span></p>
</form>
<h2>Start training</h2>
${
  ready.length
    ? html`<form id="start-run">
<label for="run-dataset">Dataset</label>
<select id="run-dataset" name="dataset_id">${ready.map((d) => html`<option value="${d.id}">${d.name}</option>`)}</select>
<label for="run-voice">For the voice <small>(its listening test and promotion)</small></label>
<select id="run-voice" name="voice_id"><option value="">none</option>${voices.map((v) => html`<option value="${v.id}">${v.name}</option>`)}</select>
<label for="run-name">Run name</label><input id="run-name" name="name" type="text" value="run" maxlength="200">
<details><summary>Advanced</summary>
<label for="run-epochs">Epochs</label><input id="run-epochs" name="epochs" type="text" inputmode="numeric" value="10">
<label for="run-lr">Learning rate</label><input id="run-lr" name="lr" type="text" inputmode="decimal" value="5e-6">
<label for="run-batch">Batch size</label><input id="run-batch" name="batch_size" type="text" inputmode="numeric" value="3">
<label for="run-accum">Gradient accumulation</label><input id="run-accum" name="grad_accum" type="text" inputmode="numeric" value="84">
<label for="run-precision">Precision</label><select id="run-precision" name="precision"><option>fp32</option><option>bf16</option><option>fp16</option></select>
<label for="run-device">Device</label><select id="run-device" name="device"><option>auto</option><option>cpu</option><option>cuda</option></select>
<label for="run-seed">Seed</label><input id="run-seed" name="seed" type="text" inputmode="numeric" value="0">
<fieldset><legend>The listening test of the checkpoints <small>(empty: its defaults)</small></legend>
<label for="run-every">Also test every K epochs while training</label><input id="run-every" name="listening_test.every_epochs" type="text" inputmode="numeric" value="">
<label for="run-ab-nat">A/B naturalness questions per listener</label><input id="run-ab-nat" name="listening_test.trials_per_rater.ab_naturalness" type="text" inputmode="numeric" value="">
<label for="run-ab-sim">A/B likeness questions per listener</label><input id="run-ab-sim" name="listening_test.trials_per_rater.ab_similarity" type="text" inputmode="numeric" value="">
<label for="run-mos">Naturalness ratings per listener</label><input id="run-mos" name="listening_test.trials_per_rater.mos" type="text" inputmode="numeric" value="">
<label for="run-sim">Likeness ratings per listener</label><input id="run-sim" name="listening_test.trials_per_rater.similarity" type="text" inputmode="numeric" value="">
</fieldset>
</details>
<p class="check"><label><input id="run-auto-promote" name="listening_test.auto_promote" type="checkbox">
Promote automatically: the voice takes the checkpoint listeners prefer once the rule decides</label></p>
<p><button type="submit">Start training</button></p>
<p id="run-status" role="status" aria-live="polite"></p>
</form>`
    : html`<p>A dataset must be ready before training.</p>`
}
<h2>Training runs</h2>
${runs.length ? html`<ul class="links">${runs.map((r) => html`<li><a href="/training-runs/${r.id}">${r.name}</a> <small>${r.status}</small></li>`)}</ul>` : html`<p>No training runs yet.</p>`}`,
    frame,
  );
}
