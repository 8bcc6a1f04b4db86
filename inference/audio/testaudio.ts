/** Test helpers: speech made with espeak-ng, converted and measured with sox. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function haveTools(): boolean {
  try {
    execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
    execFileSync('sox', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const TOOLS_MISSING = haveTools()
  ? false
  : 'needs espeak-ng and sox (apt-get install espeak-ng sox libsox-fmt-all)';

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'xtts-audio-'));
}

/** espeak-ng speech as a 22050 Hz mono wav; returns its path. */
export function speak(dir: string, text: string, name = 'speech.wav'): string {
  const path = join(dir, name);
  execFileSync('espeak-ng', ['-w', path, text]);
  return path;
}

export function sox(...args: string[]): string {
  return execFileSync('sox', args, { encoding: 'utf8' });
}

/** What `sox --i` reports: sample rate, channels, length in samples. */
export function soxInfo(path: string): { rate: number; channels: number; samples: number } {
  return {
    rate: Number(sox('--i', '-r', path).trim()),
    channels: Number(sox('--i', '-c', path).trim()),
    samples: Number(sox('--i', '-s', path).trim()),
  };
}

export const bytes = (path: string) => new Uint8Array(readFileSync(path));
