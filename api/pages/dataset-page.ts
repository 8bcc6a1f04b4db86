/** The owner's dataset page: status and live progress, the report with plots, every clip to hear, correct or exclude. */
import { html } from 'hono/html';
import { clipIncluded, type Dataset, type DatasetClip, type DatasetClipSummary } from '../../db/index.ts';
import { clipAudioPath } from '../datasets/views.ts';
import type { UrlSigner } from '../signed-urls.ts';
import { type Frame, keyField, layout } from './layout.ts';
import { histogram, scatter } from './plots.ts';

const IN = '#1f6feb';
const OUT = '#d1242f';
const f = (v: number | null, d = 1) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(d));

export function datasetPage(
  d: Dataset,
  clips: DatasetClip[],
  summary: DatasetClipSummary,
  signer: UrlSigner,
  frame: Frame = {},
) {
  const base = `/v1/datasets/${d.id}`;
  const included = clips.filter(clipIncluded);
  const out = clips.filter((c) => !clipIncluded(c));
  const groups = [
    { name: 'included', color: IN, values: included.map((c) => c.durationS) },
    { name: 'excluded or dropped', color: OUT, values: out.map((c) => c.durationS) },
  ];
  const cpsPoints = clips.map((c) => ({
    x: c.durationS,
    y: c.cps ?? c.text.length / Math.max(c.durationS, 0.01),
    color: clipIncluded(c) ? IN : OUT,
    label: `${c.clipKey}: ${f(c.cps, 1)} chars/s, ${f(c.durationS, 2)} s${c.reasons.length ? ` (${c.reasons.join(', ')})` : ''}`,
  }));
  const p = d.progress ?? {};
  const body = html`<h1>Dataset: ${d.name}</h1>
<p>Language <strong>${d.language}</strong> · source ${d.source}${d.chunker ? ` · ${d.chunker} chunker` : ''} ·
status <span class="status" id="status">${d.status}</span></p>
<section id="live" data-events="${signer.sign(`${base}/events`)}" data-dataset="${d.id}">
 <progress id="fraction" max="1" value="${Number(p.fraction ?? (d.status === 'ready' ? 1 : 0))}"></progress>
 <span id="stage">${String(p.stage ?? '')} ${String(p.message ?? '')}</span>
 ${d.status === 'failed' ? html`<p role="alert"><strong>${d.errorCode ?? 'FAILED'}</strong>: ${d.error ?? ''}</p>` : ''}
</section>
<p>${keyField(frame, 'Admin key (for edits; kept in this browser)')}</p>
${d.status === 'ready' ? html`<p><a id="download" href="${signer.sign(`${base}/ljspeech.tar`)}" download>Download as an LJSpeech archive</a> (metadata.csv, metadata_train.csv, metadata_eval.csv, wavs/; your edits included)</p>` : ''}
<h2>Report</h2>
<table class="summary" tabindex="0" aria-label="Summary"><tbody>
<tr><th>Clips</th><td class="n">${summary.clips}</td><th>Included</th><td class="n">${summary.included}</td></tr>
<tr><th>Hours included</th><td class="n">${(summary.includedSeconds / 3600).toFixed(2)}</td><th>Hours dropped or excluded</th><td class="n">${(summary.droppedSeconds / 3600).toFixed(2)}</td></tr>
<tr><th>Train clips</th><td class="n">${summary.train}</td><th>Eval clips</th><td class="n">${summary.eval}</td></tr>
<tr><th>Texts corrected</th><td class="n">${summary.edited}</td><th>Owner overrides</th><td class="n">${summary.overridden}</td></tr>
</tbody></table>
${Object.keys(summary.reasons).length ? html`<table class="reasons" tabindex="0"><caption>Why clips were dropped or flagged</caption><thead><tr><th>reason</th><th>clips</th></tr></thead><tbody>${Object.entries(summary.reasons).map(([r, n]) => html`<tr><td>${r}</td><td class="n">${n}</td></tr>`)}</tbody></table>` : ''}
<div class="row">
${histogram('Clip durations', groups, { binWidth: 0.5, xLabel: 'seconds' })}
${scatter('Characters per second', cpsPoints, { x: 'duration (s)', y: 'characters per second' }, groups)}
</div>
<h2>Clips</h2>
<table class="clips" tabindex="0" aria-label="Clips"><thead><tr><th>clip</th><th>audio</th><th>text</th><th>s</th><th>chars/s</th><th>status</th><th></th></tr></thead><tbody>
${clips.map(
  (c) => html`<tr data-clip="${c.id}" data-status="${c.status}" class="${clipIncluded(c) ? 'in' : 'out'}">
<td>${c.clipKey}<br><small>${c.split ?? ''}</small></td>
<td><audio controls preload="none" src="${signer.sign(clipAudioPath(d.id, c.id))}"></audio></td>
<td><input type="text" class="text" value="${c.text}" aria-label="text of ${c.clipKey}">${c.originalText !== null ? html`<br><small>was: ${c.originalText}</small>` : ''}</td>
<td class="n">${f(c.durationS, 2)}</td><td class="n">${f(c.cps, 1)}</td>
<td>${c.status}${c.reasons.length ? html`<br><small>${c.reasons.join(', ')}</small>` : ''}</td>
<td><button type="button" class="save">Save text</button>
<button type="button" class="toggle" data-excluded="${clipIncluded(c) ? 'true' : 'false'}">${clipIncluded(c) ? 'Exclude' : 'Restore'}</button></td></tr>`,
)}
</tbody></table>`;
  return layout(`Dataset: ${d.name}`, body, frame);
}
