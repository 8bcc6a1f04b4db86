/**
 * Runs the Python pre-screen scorer (trainer/prescreen/run.py) on rendered audio files.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPythonModule, runTrainerCommand } from '../jobs/python-process.ts';
import type { PrescreenScores } from './rule.ts';

export type PrescreenItem = { group: string; sentence: number; seed?: number; text: string; path: string };

export type PrescreenSpec = {
  language: string;
  /** faster-whisper options (trainer/dataset/options.py AsrOptions); the bundled tiny.en by default. */
  asr?: Record<string, unknown>;
  /** The speaker's characters per second; measured on the references when left out. */
  speaker_cps?: number | null;
  references: { path: string; text: string }[];
  items: PrescreenItem[];
};

export type PrescreenItemScores = {
  group: string;
  sentence: number;
  transcript: string;
  wer: number;
  cer: number;
  duration_s: number;
  trailing_s: number;
  missing_final: number;
  extra_final: number;
  repeats: number;
  silent: boolean;
  speaker_sim: number | null;
};

export type PrescreenReport = {
  asr: string;
  /** Where the transcription ran: cuda when a GPU is there (asr.device auto), else cpu. */
  device?: string;
  speaker_embedding: string;
  speaker_cps: number | null;
  groups: Record<string, PrescreenScores>;
  items: PrescreenItemScores[];
  cpu_s: { model_load: number; scoring: number; per_item: number };
  wall_s: number;
};

export class PrescreenError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export async function runPrescreen(
  spec: PrescreenSpec,
  opts: { signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
): Promise<PrescreenReport> {
  const dir = await mkdtemp(join(tmpdir(), 'prescreen-'));
  try {
    const path = join(dir, 'spec.json');
    await writeFile(path, JSON.stringify(spec));
    const r = await runTrainerCommand('prescreen.run', [path], {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onEvent: (e) => {
        if (e.event === 'progress' && typeof e.fraction === 'number') opts.onProgress?.(e.fraction);
      },
    });
    if (r.error) throw new PrescreenError(String(r.error.code), String(r.error.message));
    if (r.code !== 0 || !r.done) {
      const missing = missingPythonModule(r.stderrTail);
      throw new PrescreenError('PRESCREEN_FAILED', missing ?? `the pre-screen exited with ${r.code}: ${r.stderrTail}`);
    }
    return r.done.report as PrescreenReport;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
