/**
 * The report's pre-screen section: each checkpoint's objective scores (stored on the test by the
 * pre-screen, config.prescreen) beside the crowd's verdict, the reasons a checkpoint was left out
 * of the crowd test, and how well the objective ranking agrees with the crowd's so far.
 */
import { html } from 'hono/html';
import type { TestResults } from '../service/results.ts';
import { intervalPlot } from './page.ts';

type StoredCheckpoint = {
  condition_id: string;
  label: string;
  role: 'candidate' | 'base' | 'current';
  scores: {
    cer?: number;
    silent_share?: number;
    end_fault_share?: number;
    missing_final_share?: number;
    duration_ratio?: number | null;
    sound_ratio?: number | null;
    speaker_sim?: number | null;
  } | null;
  excluded: boolean;
  reasons: { code: string; message: string }[];
  combined: number | null;
};

type StoredPrescreen = {
  error?: string;
  asr?: string;
  speaker_embedding?: string;
  cpu_s?: { scoring: number; per_item: number };
  checkpoints?: StoredCheckpoint[];
};

const fmt = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

function ranks(xs: number[]): number[] {
  const order = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
    for (let k = i; k <= j; k++) r[order[k]?.[1] as number] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson on average ranks, so ties are handled); null under 3 pairs. */
export function spearman(a: number[], b: number[]): number | null {
  if (a.length < 3 || a.length !== b.length) return null;
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    const x = (ra[i] as number) - ma;
    const y = (rb[i] as number) - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : null;
}

export function prescreenSection(r: TestResults) {
  const stored = (r.test.config as { prescreen?: StoredPrescreen }).prescreen;
  if (!stored) return html``;
  const rows = stored.checkpoints ?? [];
  if (stored.error) {
    // Checkpoints whose renderings the engine refused left before the scorer ran.
    const out = rows.filter((c) => c.excluded);
    return html`<h2 id="prescreen">Pre-screen</h2><p>The objective pre-screen could not run, so every checkpoint ${out.length ? 'that could be rendered ' : ''}went to listeners: ${stored.error}</p>${
      out.length
        ? html`<ul id="prescreen-left-out">${out.map((c) => html`<li>${c.label}: left out: ${c.reasons.map((x) => x.message).join('; ')}</li>`)}</ul>`
        : ''
    }`;
  }
  const bt = new Map(r.naturalness.bradleyTerry.estimates.map((e) => [e.item, e.logStrength]));
  const pairs = rows.filter((c) => !c.excluded && c.combined !== null && bt.has(c.condition_id));
  const rho = spearman(
    pairs.map((c) => c.combined as number),
    pairs.map((c) => bt.get(c.condition_id) as number),
  );
  const plotRows = rows
    .filter((c) => c.combined !== null)
    .map((c) => ({
      label: c.label,
      value: c.combined as number,
      low: c.combined as number,
      high: c.combined as number,
      highlight: c.excluded,
    }));
  const lo = Math.min(-1, ...plotRows.map((p) => p.value));
  return html`<h2 id="prescreen">Pre-screen: what the machines heard before the crowd</h2>
<p>Every checkpoint's renderings of the test sentences were transcribed (${stored.asr ?? '–'}) and measured before the test opened; checkpoints clearly worse than the base model and the current checkpoint were left out of the crowd test. Speaker similarity: ${stored.speaker_embedding === 'mfcc-stats' ? 'cosine of MFCC-statistics embeddings against the real recordings (a timbre measure, not the model’s speaker encoder)' : (stored.speaker_embedding ?? '–')}. Cost: ${fmt(stored.cpu_s?.per_item, 2)} CPU s per rendering.</p>
<table id="prescreen-scores" tabindex="0"><caption>Objective scores beside the crowd (BT log-strength: naturalness A/B)</caption><thead><tr><th scope="col">checkpoint</th><th scope="col">role</th><th scope="col">CER</th><th scope="col">silent</th><th scope="col">goes on after the text</th><th scope="col">final word lost</th><th scope="col">duration / speaker's rate</th><th scope="col">sound / speaker's rate</th><th scope="col">speaker similarity</th><th scope="col">combined</th><th scope="col">crowd BT</th><th scope="col">verdict</th></tr></thead>
<tbody>${rows.map(
    (c) =>
      html`<tr><th scope="row">${c.label}</th><td>${c.role}</td><td>${fmt(c.scores?.cer)}</td><td>${fmt(c.scores?.silent_share)}</td><td>${fmt(c.scores?.end_fault_share)}</td><td>${fmt(c.scores?.missing_final_share)}</td><td>${fmt(c.scores?.duration_ratio)}</td><td>${fmt(c.scores?.sound_ratio)}</td><td>${fmt(c.scores?.speaker_sim, 3)}</td><td>${fmt(c.combined)}</td><td>${fmt(bt.get(c.condition_id))}</td><td>${c.excluded ? html`left out: ${c.reasons.map((x) => x.message).join('; ')}` : 'to listeners'}</td></tr>`,
  )}</tbody></table>
${plotRows.length ? intervalPlot('Combined objective score per checkpoint (left out: highlighted)', plotRows, { min: lo, max: 1 }) : ''}
<p id="prescreen-agreement">Agreement with the crowd: ${rho === null ? html`not measurable yet (needs three checkpoints heard by listeners with a crowd strength; ${pairs.length} so far)` : html`Spearman rank correlation <strong>${fmt(rho)}</strong> between the combined objective score and the crowd's BT strength over ${pairs.length} checkpoints`}.</p>`;
}
