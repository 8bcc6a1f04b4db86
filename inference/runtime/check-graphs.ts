// Runs exported graphs on sample inputs and compares their outputs with numbers computed by the
// PyTorch modules. The exporter (trainer/xtts/export/export.py) writes a cases file and raw little-endian
// tensors, calls this script, and reads back the report.
//
// usage: node inference/runtime/check-graphs.ts CASES.json REPORT.json [--device cpu|cuda]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DType, type Feeds, openSession, type Tensor, tensorFromBytes } from './session.ts';

interface TensorFile {
  name: string;
  dtype: DType;
  shape: number[];
  file: string;
  atol?: number;
}
interface Case {
  name: string;
  graph: string;
  feeds: TensorFile[];
  expected: TensorFile[];
  repeat?: number;
}
export interface OutputReport {
  name: string;
  shape: number[];
  maxAbsErr: number;
  atol: number;
  ok: boolean;
  note?: string;
}
export interface CaseReport {
  name: string;
  graph: string;
  ok: boolean;
  ms: number;
  firstMs: number;
  outputs: OutputReport[];
  error?: string;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function numbers(t: Tensor): Float64Array {
  const d = t.data;
  if (t.type === 'float16') return Float64Array.from(d as Uint16Array, halfToFloat);
  if (t.type === 'int64') return Float64Array.from(d as BigInt64Array, (v) => Number(v));
  return Float64Array.from(d as ArrayLike<number>);
}

function compare(got: Tensor | undefined, want: Tensor, spec: TensorFile): OutputReport {
  const atol = spec.atol ?? 0;
  if (!got)
    return { name: spec.name, shape: [], maxAbsErr: Number.POSITIVE_INFINITY, atol, ok: false, note: 'missing' };
  const shape = [...got.dims];
  if (shape.join(',') !== want.dims.join(',')) {
    return {
      name: spec.name,
      shape,
      maxAbsErr: Number.POSITIVE_INFINITY,
      atol,
      ok: false,
      note: `expected shape [${want.dims.join(', ')}]`,
    };
  }
  const a = numbers(got);
  const b = numbers(want);
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (!(e <= max)) max = Number.isNaN(e) ? Number.POSITIVE_INFINITY : Math.max(max, e);
  }
  return { name: spec.name, shape, maxAbsErr: max, atol, ok: max <= atol };
}

export async function runCases(casesPath: string, device: 'cpu' | 'cuda'): Promise<CaseReport[]> {
  const base = dirname(resolve(casesPath));
  const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as Case[];
  const load = (t: TensorFile) => tensorFromBytes(t.dtype, readFileSync(resolve(base, t.file)), t.shape);
  const reports: CaseReport[] = [];
  for (const c of cases) {
    const report: CaseReport = { name: c.name, graph: c.graph, ok: false, ms: 0, firstMs: 0, outputs: [] };
    try {
      const session = await openSession(resolve(base, c.graph), { device });
      const feeds: Feeds = Object.fromEntries(c.feeds.map((f) => [f.name, load(f)]));
      let t = performance.now();
      let out = await session.run(feeds);
      report.firstMs = performance.now() - t;
      const times: number[] = [];
      for (let i = 0; i < (c.repeat ?? 0); i++) {
        t = performance.now();
        out = await session.run(feeds);
        times.push(performance.now() - t);
      }
      times.sort((x, y) => x - y);
      report.ms = times.length > 0 ? (times[times.length >> 1] ?? 0) : report.firstMs;
      report.outputs = c.expected.map((e) => compare(out[e.name], load(e), e));
      report.ok = report.outputs.every((o) => o.ok);
      await session.release();
    } catch (e) {
      report.error = (e as Error).message;
    }
    reports.push(report);
  }
  return reports;
}

if (import.meta.main) {
  const [casesPath, reportPath, ...rest] = process.argv.slice(2);
  if (!casesPath || !reportPath) {
    console.error('usage: node inference/runtime/check-graphs.ts CASES.json REPORT.json [--device cpu|cuda]');
    process.exit(2);
  }
  const device = rest[rest.indexOf('--device') + 1] === 'cuda' ? 'cuda' : 'cpu';
  const reports = await runCases(casesPath, device);
  writeFileSync(reportPath, JSON.stringify(reports, null, 1));
  for (const r of reports) {
    const worst = r.outputs.map((o) => `${o.name} ${o.maxAbsErr.toExponential(2)}`).join(', ');
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} ${r.ms.toFixed(1)} ms ${r.error ?? worst}`);
  }
  process.exit(reports.every((r) => r.ok) ? 0 : 1);
}
