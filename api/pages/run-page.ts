/** The owner's training-run page: live loss curves with checkpoints marked, each checkpoint playable; cancel and resume. */
import { html } from 'hono/html';
import type { Checkpoint, ListeningTest, TrainingMetric, TrainingRun, Voice } from '../../db/index.ts';
import type { UrlSigner } from '../signed-urls.ts';
import { type Frame, keyField, layout } from './layout.ts';
import { lineChart } from './plots.ts';

/** The sentence every checkpoint speaks on this page: the same text and seed, so they compare by ear. */
export const SAMPLE_SENTENCE = 'The quick brown fox jumps over the lazy dog, and then it rests in the warm sun.';
const f = (v: number | null | undefined, d = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);

export function lossCurves(metrics: TrainingMetric[], checkpoints: Checkpoint[]) {
  const series = (kind: 'train' | 'eval', name: string, color: string) => ({
    name,
    color,
    points: metrics
      .filter((m) => m.kind === kind && m.loss !== null)
      .map((m) => [m.step, m.loss as number] as [number, number]),
  });
  return lineChart(
    'Loss per step',
    [series('train', 'train loss', '#1f6feb'), series('eval', 'eval loss', '#e36209')],
    checkpoints.filter((k) => k.step !== null).map((k) => ({ x: k.step as number, label: `e${k.epoch ?? '?'}` })),
    { x: 'step', y: 'loss' },
  );
}

export function checkpointRow(k: Checkpoint) {
  return html`<tr data-checkpoint="${k.id}"><td>${k.name}</td><td class="n">${k.epoch ?? '–'}</td><td class="n">${k.step ?? '–'}</td>
<td class="n">${f(k.trainLoss)}</td><td class="n">${f(k.evalLoss)}</td><td>${k.status}</td>
<td><button type="button" class="play" ${k.status === 'ready' ? '' : 'disabled'}>Play</button></td></tr>`;
}

/**
 * The run's listening test, which the job worker creates when training ends (for a run with a
 * voice): a link once it exists, otherwise what to expect. The page refreshes this part while
 * the test may still come.
 */
export function runTest(run: TrainingRun, test: ListeningTest | undefined) {
  if (test) {
    return html`<p><strong>Listening test</strong>: <a id="run-test-link" href="/console/tests/${test.id}">${test.name}</a>
<small>${test.status}</small></p>`;
  }
  if (!run.voiceId) return html`<p>No listening test: the run is for no voice.</p>`;
  if (run.status === 'failed' || run.status === 'cancelled')
    return html`<p>No listening test: the run ended early.</p>`;
  return html`<p>The listening test of its checkpoints is created when training ends.</p>`;
}

/** Cancel applies while the run trains; resume to a run that stopped early. */
export const canCancel = (status: string) => status === 'queued' || status === 'running';
export const canResume = (status: string) => status === 'cancelled' || status === 'failed';

/**
 * Signed in, a run that has ended with ready checkpoints gets a listening test in one step: the
 * same test the job worker makes when a run succeeds (for a run with no voice, the owner picks one).
 */
export function createTestForm(
  run: TrainingRun,
  checkpoints: Checkpoint[],
  test: ListeningTest | undefined,
  voices: Voice[],
  frame: Frame,
) {
  if (!frame.csrf || canCancel(run.status)) return '';
  const ready = checkpoints.filter((k) => k.status === 'ready').length;
  if (ready === 0) return '';
  if (!run.voiceId && voices.length === 0)
    return html`<p>Create a voice to put this run's checkpoints before listeners.</p>`;
  return html`<form id="create-test" method="post" action="/console/training-runs/${run.id}/listening-test">
<input type="hidden" name="_csrf" value="${frame.csrf}">
<p>A blind listening test of the run's ${ready} checkpoint${ready === 1 ? '' : 's'}, the voice's current checkpoint and the
base model, on the dataset's held-out sentences (their recordings are the real voice); opened to listeners once rendered.</p>
${
  run.voiceId
    ? ''
    : html`<label for="create-test-voice">For the voice</label>
<select id="create-test-voice" name="voice_id" required>${voices.map((v) => html`<option value="${v.id}">${v.name}</option>`)}</select>`
}
<p><button type="submit">${test ? 'Create another listening test' : 'Create a listening test'}</button></p></form>`;
}

/** Whether the run's test may still appear (the page keeps asking while it may). */
export const testMayCome = (run: TrainingRun, test: ListeningTest | undefined) =>
  !test && run.voiceId !== null && run.status !== 'failed' && run.status !== 'cancelled';

export function runPage(
  run: TrainingRun,
  metrics: TrainingMetric[],
  checkpoints: Checkpoint[],
  signer: UrlSigner,
  frame: Frame = {},
  test?: ListeningTest,
  extra: { voices?: Voice[]; notice?: string | undefined; error?: string | undefined } = {},
) {
  const base = `/v1/training-runs/${run.id}`;
  const p = (run.progress ?? {}) as Record<string, number | undefined>;
  const lastId = metrics.reduce((m, r) => Math.max(m, r.id), 0);
  const body = html`<h1>Training run: ${run.name}</h1>
<p>Status <span class="status" id="status">${run.status}</span> ·
<a href="/datasets/${run.datasetId}">dataset</a>${run.voiceId ? html` · <a href="/console/voices/${run.voiceId}">voice</a>` : ''} · base package ${run.basePackage}</p>
${extra.notice ? html`<p class="notice" role="status">${extra.notice}</p>` : ''}
${extra.error ? html`<p class="error" role="alert">${extra.error}</p>` : ''}
<section id="run-test" aria-live="polite"${testMayCome(run, test) ? html` data-refresh="/training-runs/${run.id}/test"` : ''}>${runTest(run, test)}</section>
${createTestForm(run, checkpoints, test, extra.voices ?? [], frame)}
${run.error ? html`<p role="alert"><strong>${run.errorCode ?? 'FAILED'}</strong>: ${run.error}</p>` : ''}
<section id="run" data-run="${run.id}" data-events="${signer.sign(`${base}/events`)}" data-after="${lastId}"
 data-curves="${signer.sign(`/training-runs/${run.id}/curves`)}">
<p id="progress">step ${p.step ?? '–'} · epoch ${p.epoch ?? '–'} · loss ${f(p.loss)} (text ${f(p.loss_text)}, mel ${f(p.loss_mel)}) ·
${f(p.samples_per_s, 1)} samples/s · GPU ${f(p.gpu_mem_mb, 0)} MB · ETA ${p.eta_s === undefined ? '–' : `${Math.round(p.eta_s / 60)} min`}</p>
<p><button type="button" id="cancel"${canCancel(run.status) ? '' : html` hidden`}>Cancel</button>
<button type="button" id="resume"${canResume(run.status) ? '' : html` hidden`}>Resume</button>
${keyField(frame, 'Admin key (kept in this browser)')}</p>
<div id="curves">${lossCurves(metrics, checkpoints)}</div>
</section>
<h2>Checkpoints</h2>
<p><label>Voice <input id="voice" type="text" value="${run.voiceId ?? ''}" placeholder="voice id or name"></label>
<label>Sentence <input id="sentence" type="text" value="${SAMPLE_SENTENCE}"></label></p>
<table class="checkpoints" tabindex="0" aria-label="Checkpoints"><thead><tr><th>checkpoint</th><th>epoch</th><th>step</th><th>train loss</th><th>eval loss</th><th>status</th><th></th></tr></thead>
<tbody id="checkpoint-rows">${checkpoints.map(checkpointRow)}</tbody></table>
<p><audio id="player" controls aria-label="The checkpoint's sample"></audio> <span id="player-status" role="status" aria-live="polite"></span></p>`;
  return layout(`Training run: ${run.name}`, body, frame);
}
