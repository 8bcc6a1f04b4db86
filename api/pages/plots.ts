/**
 * Small SVG plots rendered on the server from the rows (no script, no external requests).
 * Every label passes through hono/html escaping.
 */
import { html } from 'hono/html';

const W = 640;
const H = 260;
const M = { left: 56, right: 16, top: 16, bottom: 40 };
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));

type Scale = { min: number; max: number };
const scale = (s: Scale, from: number, to: number) => (v: number) =>
  from + ((v - s.min) / (s.max - s.min || 1)) * (to - from);

function extent(values: number[], pad = 0.05): Scale {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { min: 0, max: 1 };
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const p = (max - min) * pad || Math.abs(max) * 0.1 || 1;
  return { min: min - p, max: max + p };
}

function axes(title: string, xs: Scale, ys: Scale, labels: { x: string; y: string }) {
  const x = scale(xs, M.left, W - M.right);
  const y = scale(ys, H - M.bottom, M.top);
  const ticks = (s: Scale) => Array.from({ length: 5 }, (_, i) => s.min + ((s.max - s.min) * i) / 4);
  return html`<title>${title}</title>
<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="#888"/>
<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#888"/>
${ticks(xs).map((t) => html`<text x="${x(t)}" y="${H - M.bottom + 14}" font-size="10" text-anchor="middle">${fmt(t)}</text>`)}
${ticks(ys).map((t) => html`<text x="${M.left - 4}" y="${y(t) + 3}" font-size="10" text-anchor="end">${fmt(t)}</text><line x1="${M.left}" x2="${W - M.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`)}
<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${labels.x}</text>
<text x="12" y="${(M.top + H - M.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(M.top + H - M.bottom) / 2})">${labels.y}</text>`;
}

const figure = (title: string, cls: string, body: unknown, legend: unknown = '') =>
  html`<figure class="${cls}"><svg role="img" aria-label="${title}" viewBox="0 0 ${W} ${H}" width="100%" style="max-width:${W}px">${body}</svg><figcaption>${title}${legend}</figcaption></figure>`;

export type Group = { name: string; color: string; values: number[] };

/** A stacked histogram of several groups over the same bins (e.g. durations of included and dropped clips). */
export function histogram(title: string, groups: Group[], opts: { binWidth: number; xLabel: string }) {
  const all = groups.flatMap((g) => g.values).filter(Number.isFinite);
  const lo = all.length ? Math.floor(Math.min(...all) / opts.binWidth) * opts.binWidth : 0;
  const hi = all.length ? Math.max(lo + opts.binWidth, Math.ceil(Math.max(...all) / opts.binWidth) * opts.binWidth) : 1;
  const bins = Math.max(1, Math.min(200, Math.round((hi - lo) / opts.binWidth)));
  const counts = groups.map((g) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of g.values) {
      if (!Number.isFinite(v)) continue;
      c[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / opts.binWidth)))]! += 1;
    }
    return c;
  });
  const totals = Array.from({ length: bins }, (_, i) => counts.reduce((n, c) => n + (c[i] ?? 0), 0));
  const xs = { min: lo, max: lo + bins * opts.binWidth };
  const ys = { min: 0, max: Math.max(1, ...totals) * 1.05 };
  const x = scale(xs, M.left, W - M.right);
  const y = scale(ys, H - M.bottom, M.top);
  const bw = x(lo + opts.binWidth) - x(lo);
  const bars = [];
  for (let i = 0; i < bins; i++) {
    let base = 0;
    for (const [gi, g] of groups.entries()) {
      const n = counts[gi]?.[i] ?? 0;
      if (n === 0) continue;
      const x0 = lo + i * opts.binWidth;
      bars.push(
        html`<rect class="bar" x="${x(x0) + 0.5}" y="${y(base + n)}" width="${Math.max(1, bw - 1)}" height="${y(base) - y(base + n)}" fill="${g.color}"><title>${g.name}: ${n} in ${fmt(x0)}–${fmt(x0 + opts.binWidth)}</title></rect>`,
      );
      base += n;
    }
  }
  return figure(
    title,
    'histogram',
    html`${axes(title, xs, ys, { x: opts.xLabel, y: 'clips' })}${bars}`,
    legend(groups),
  );
}

export type Point = { x: number; y: number; color: string; label: string };

export function scatter(title: string, points: Point[], labels: { x: string; y: string }, groups: Group[] = []) {
  const xs = extent(points.map((p) => p.x));
  const ys = extent(points.map((p) => p.y));
  const x = scale(xs, M.left, W - M.right);
  const y = scale(ys, H - M.bottom, M.top);
  const dots = points
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .map(
      (p) =>
        html`<circle class="point" cx="${x(p.x)}" cy="${y(p.y)}" r="2.5" fill="${p.color}" fill-opacity=".7"><title>${p.label}</title></circle>`,
    );
  return figure(title, 'scatter', html`${axes(title, xs, ys, labels)}${dots}`, legend(groups));
}

export type Series = { name: string; color: string; points: Array<[number, number]> };
export type Marker = { x: number; label: string };

/** Lines over steps, with vertical markers (checkpoints). */
export function lineChart(title: string, series: Series[], markers: Marker[], labels: { x: string; y: string }) {
  const xs = extent([...series.flatMap((s) => s.points.map((p) => p[0])), ...markers.map((m) => m.x)], 0.02);
  const ys = extent(series.flatMap((s) => s.points.map((p) => p[1])));
  const x = scale(xs, M.left, W - M.right);
  const y = scale(ys, H - M.bottom, M.top);
  const lines = series.map((s) => {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    return html`<path class="series" data-series="${s.name}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>${
      pts.length <= 60 ? pts.map((p) => html`<circle cx="${x(p[0])}" cy="${y(p[1])}" r="2" fill="${s.color}"/>`) : ''
    }`;
  });
  const marks = markers.map(
    (m) =>
      html`<g class="marker"><line x1="${x(m.x)}" x2="${x(m.x)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#b5179e" stroke-dasharray="3 3"/><text x="${x(m.x) + 3}" y="${M.top + 10}" font-size="10" fill="#b5179e">${m.label}</text></g>`,
  );
  return figure(title, 'curves', html`${axes(title, xs, ys, labels)}${lines}${marks}`, legend(series));
}

function legend(groups: Array<{ name: string; color: string }>) {
  if (groups.length === 0) return '';
  return html` — ${groups.map((g) => html`<span style="color:${g.color}">■</span> ${g.name} `)}`;
}
