/**
 * The admin's results page: tables and SVG interval plots, server-rendered, no script.
 * Every value passes through hono/html escaping.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { TestResults } from '../service/results.ts';
import { itemRows } from './export.ts';
import { prescreenSection } from './prescreen.ts';

type Row = { label: string; value: number; low: number; high: number; highlight: boolean };

/** A vertical marker on a plot: the line a value must clear (no difference, the similarity margin). */
type Marker = { at: number; label: string };

const fmt = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

/** Horizontal point-and-interval plot; infinite ends are clipped to the axis and drawn as arrows. */
export function intervalPlot(title: string, rows: Row[], axis: { min: number; max: number }, markers: Marker[] = []) {
  const width = 640;
  const left = 220;
  const right = 20;
  const rowH = 28;
  const height = 40 + rows.length * rowH;
  const x = (v: number) =>
    left + ((Math.min(axis.max, Math.max(axis.min, v)) - axis.min) / (axis.max - axis.min)) * (width - left - right);
  const ticks = Array.from({ length: 5 }, (_, i) => axis.min + ((axis.max - axis.min) * i) / 4);
  return html`<figure>
<svg role="img" aria-label="${title}" viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px">
<title>${title}</title>
${ticks.map((t) => html`<line x1="${x(t)}" x2="${x(t)}" y1="10" y2="${height - 20}" stroke="#ddd"/><text x="${x(t)}" y="${height - 4}" font-size="11" text-anchor="middle">${fmt(t, 1)}</text>`)}
${markers.map((m) => html`<line x1="${x(m.at)}" x2="${x(m.at)}" y1="10" y2="${height - 20}" stroke="#b54708" stroke-dasharray="4 3"/><text x="${x(m.at)}" y="9" font-size="10" text-anchor="middle" fill="#b54708">${m.label}</text>`)}
${rows.map((r, i) => {
  const y = 26 + i * rowH;
  const finite = Number.isFinite(r.value);
  return html`<g><text x="${left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${r.label}</text>
<line x1="${x(r.low)}" x2="${x(r.high)}" y1="${y}" y2="${y}" stroke="${r.highlight ? '#b5179e' : '#333'}" stroke-width="2"/>
${finite ? html`<circle cx="${x(r.value)}" cy="${y}" r="5" fill="${r.highlight ? '#b5179e' : '#1f6feb'}"><title>${r.label}: ${fmt(r.value)} [${fmt(r.low)}, ${fmt(r.high)}]</title></circle>` : ''}</g>`;
})}
</svg><figcaption>${title}</figcaption></figure>`;
}

function extent(rows: Row[], fallback: { min: number; max: number }) {
  const vals = rows.flatMap((r) => [r.low, r.high, r.value]).filter(Number.isFinite);
  if (vals.length === 0) return fallback;
  const min = Math.min(...vals);
  const max = Math.max(...vals);
  const pad = (max - min) * 0.1 || 1;
  return { min: min - pad, max: max + pad };
}

export function resultsPage(r: TestResults): HtmlEscapedString | Promise<HtmlEscapedString> {
  const items = itemRows(r);
  const label = new Map(r.conditions.map((c) => [c.id, c.label]));
  const bt: Row[] = items
    .filter((i) => i.naturalness_bt)
    .map((i) => ({
      label: i.label,
      value: i.naturalness_bt?.log_strength ?? Number.NaN,
      low: i.naturalness_bt?.ci_low ?? Number.NaN,
      high: i.naturalness_bt?.ci_high ?? Number.NaN,
      highlight: i.incumbent,
    }));
  // 1–5 ratings: an interval not yet computed spans the whole scale.
  const ratingRows = (kind: 'mos' | 'similarity'): Row[] =>
    items
      .filter((i) => i[kind].n > 0)
      .map((i) => ({
        label: i.label,
        value: i[kind].mean ?? Number.NaN,
        low: i[kind].ci_low ?? 1,
        high: i[kind].ci_high ?? 5,
        highlight: i.incumbent,
      }));
  const mos = ratingRows('mos');
  // Raters flagged in the database (headphone check, checks failed while voting) are not in the
  // statistics at all; list them with their stored reason so the owner sees why.
  const flaggedInDb = r.flaggedRaters;
  const sim = ratingRows('similarity');
  const d = r.decision;
  const base = `/v1/listening/tests/${r.test.id}`;
  const verdicts = d?.audit.candidates ?? [];
  const policy = d?.audit.policy;
  const incumbentLabel = label.get(r.incumbent ?? '') ?? 'the current checkpoint';
  const shareRows = (
    pick: (v: (typeof verdicts)[number]) => { ci: { low: number; high: number }; mean: number } | null,
  ) =>
    verdicts
      .map((v) => ({ v, s: pick(v) }))
      .filter((x) => x.s !== null)
      .map(({ v, s }) => ({
        label: label.get(v.item) ?? v.item,
        value: s?.mean ?? Number.NaN,
        low: s?.ci.low ?? 0,
        high: s?.ci.high ?? 1,
        highlight: d?.promote === true && d.winner === v.item,
      }));
  const naturalRows = shareRows((v) => v.naturalness.share);
  const similarity = verdicts.find((v) => v.similarity.measured !== 'none')?.similarity.measured ?? 'none';
  const similarRows = shareRows((v) => v.similarity.summary);
  const similarityPlot =
    similarity === 'ab'
      ? intervalPlot(
          `Share of raters' votes for the checkpoint as more like the speaker, against ${incumbentLabel}`,
          similarRows,
          { min: 0, max: 1 },
          [
            { at: 0.5, label: 'equal' },
            { at: 0.5 - (policy?.similarityMargin ?? 0) / 2, label: 'margin' },
          ],
        )
      : similarity === 'ratings'
        ? intervalPlot(
            `Similarity rating minus ${incumbentLabel}'s, per rater`,
            similarRows,
            extent(similarRows, { min: -2, max: 2 }),
            [
              { at: 0, label: 'equal' },
              { at: -(policy?.similarityRatingMargin ?? 0), label: 'margin' },
            ],
          )
        : html`<p>This test measures no similarity to the speaker (no real recordings, or no similarity trials): the gate was not applied.</p>`;
  const statusText: Record<string, string> = {
    eligible: 'better, and not less like the speaker',
    collecting: 'undecided: collecting votes',
    futile: 'out: not enough better to be worth it',
    'less-similar': 'out: less like the speaker than the margin',
  };
  const wealth = (t: { maxLogWealth: number; threshold: number; raters: number } | null) =>
    t
      ? `${fmt(Math.exp(Math.min(t.maxLogWealth, 50)), 1)} of ${fmt(Math.exp(t.threshold), 0)} (${t.raters} raters)`
      : '–';
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Results: ${r.test.name}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}@media (max-width:40rem){table{display:block;overflow-x:auto;max-width:100%}}</style></head>
<body><main>
<h1>Results: ${r.test.name}</h1>
<p>Status <strong>${r.test.status}</strong> · ${r.votes} votes stored, ${r.naturalness.excludedVotes + r.flaggedVotes} excluded (flagged, unverified or too fast) ·
raters ${r.raters.total} (${r.raters.completed} completed, ${r.raters.flagged} flagged)</p>
<p id="decision">${d ? (d.promote ? html`The promotion rule names <strong>${label.get(d.winner) ?? d.winner}</strong>.` : d.settled ? html`The test is settled with no promotion: <strong>${d.reason}</strong>.` : html`The promotion rule names no winner yet: <strong>${d.reason}</strong>.`) : 'No incumbent to compare with.'}</p>
<p>Export: <a href="${base}/results">JSON</a> · <a href="${base}/results.csv">CSV (conditions)</a> · <a href="${base}/results.csv?table=votes">CSV (every vote)</a></p>
<h2>Against ${incumbentLabel}, per checkpoint</h2>
<p>Each rater counts once: a rater's share of votes for the checkpoint, averaged over raters, with a 95% interval over raters. A checkpoint is promoted when listeners prefer it for naturalness (sequential test at α = ${fmt(policy?.alpha, 3)} over every look and every checkpoint) and it is not less like the speaker by more than the margin; MOS is reported beside them.</p>
${intervalPlot(`Share of raters' votes for the checkpoint's naturalness, against ${incumbentLabel}`, naturalRows, { min: 0, max: 1 }, [{ at: 0.5, label: 'equal' }])}
${similarityPlot}
${mos.length ? html`${intervalPlot('Mean opinion score (naturalness, 1–5), 95% intervals over raters', mos, { min: 1, max: 5 })}` : ''}
<table id="verdicts" tabindex="0"><caption>The rule, per checkpoint (evidence: betting wealth reached / needed)</caption><thead><tr><th scope="col">checkpoint</th><th scope="col">status</th><th scope="col">naturalness: more natural</th><th scope="col">similarity: not less like the speaker</th><th scope="col">naturalness: futile</th></tr></thead>
<tbody>${verdicts.map((v) => html`<tr><th scope="row">${label.get(v.item) ?? v.item}</th><td>${statusText[v.status] ?? v.status}</td><td>${wealth(v.naturalness.superiority)}</td><td>${wealth(v.similarity.nonInferiority)}</td><td>${wealth(v.naturalness.futility)}</td></tr>`)}</tbody></table>
<h2>Preference (Bradley–Terry, 95% bootstrap intervals over raters)</h2>
${intervalPlot('Bradley–Terry log-strength, naturalness A/B', bt, extent(bt, { min: -2, max: 2 }))}
<table tabindex="0"><caption>Conditions</caption><thead><tr><th scope="col">condition</th><th scope="col">BT log-strength</th><th scope="col">95% interval</th><th scope="col">P(best)</th><th scope="col">A/B votes</th><th scope="col">MOS (n)</th><th scope="col">MOS 95% CI</th><th scope="col">similarity (n)</th><th scope="col">similarity 95% CI</th></tr></thead>
<tbody>${items.map(
    (
      i,
    ) => html`<tr><th scope="row">${i.label}${i.incumbent ? ' (current)' : ''}</th><td>${fmt(i.naturalness_bt?.log_strength)}</td><td>[${fmt(i.naturalness_bt?.ci_low)}, ${fmt(i.naturalness_bt?.ci_high)}]</td><td>${fmt(i.naturalness_bt?.probability_best)}</td><td>${i.naturalness_bt?.votes ?? 0}</td>
<td>${fmt(i.mos.mean)} (${i.mos.n})</td><td>[${fmt(i.mos.ci_low)}, ${fmt(i.mos.ci_high)}]</td><td>${fmt(i.similarity.mean)} (${i.similarity.n})</td><td>[${fmt(i.similarity.ci_low)}, ${fmt(i.similarity.ci_high)}]</td></tr>`,
  )}</tbody></table>
<table tabindex="0"><caption>Head to head (votes; sign test over raters, Holm-adjusted)</caption><thead><tr><th scope="col">pair</th><th scope="col">votes</th><th scope="col">raters</th><th scope="col">ties</th><th scope="col">p</th><th scope="col">p (Holm)</th></tr></thead>
<tbody>${r.naturalness.headToHead.map(
    (h) =>
      html`<tr><th scope="row">${label.get(h.a) ?? h.a} vs ${label.get(h.b) ?? h.b}</th><td>${h.winsA}–${h.winsB}</td><td>${h.ratersA}–${h.ratersB}</td><td>${h.ties}</td><td>${fmt(h.p, 4)}</td><td>${fmt(h.pHolm, 4)}</td></tr>`,
  )}</tbody></table>
${sim.length ? html`<h2>Speaker similarity ratings (1–5), 95% intervals over raters</h2>${intervalPlot('Speaker similarity (the real recording is the anchor)', sim, { min: 1, max: 5 })}` : ''}
${prescreenSection(r)}
<h2>Raters</h2>
<p>Every rule judges a rater on their own answers only and is blind to which checkpoint they preferred, so leaving a rater out can never tilt the decision. Raters screened out by the headphone check, or flagged while voting, are listed with the reason stored then.</p>
<table id="raters" tabindex="0"><caption>Quality control</caption><thead><tr><th scope="col">rater</th><th scope="col">status</th><th scope="col">reasons</th><th scope="col">gold failed</th><th scope="col">traps failed</th><th scope="col">too fast</th><th scope="col">left / right (p)</th></tr></thead>
<tbody>${r.naturalness.raters.map((q) => html`<tr><th scope="row">${q.raterId.slice(0, 8)}</th><td>${q.status}</td><td>${q.reasons.join(', ') || '–'}</td><td>${q.gold.failures} of ${q.gold.trials} (${q.gold.allowed} allowed)</td><td>${q.trap.failures} of ${q.trap.trials}</td><td>${fmt(100 * q.fast.share, 0)}%</td><td>${q.side.left} / ${q.side.right} (${fmt(q.side.p, 3)})</td></tr>`)}
${flaggedInDb.map((f) => html`<tr><th scope="row">${f.raterId.slice(0, 8)}</th><td>flagged</td><td>${f.reason}</td><td colspan="4">–</td></tr>`)}</tbody></table>
${raw('')}
</main></body></html>`;
}
