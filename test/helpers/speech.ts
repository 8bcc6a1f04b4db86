import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real speech for tests: espeak-ng's voice for `text`, as WAV bytes (22050 Hz mono PCM16). `args`
 * go to espeak-ng before the text (`-s` words a minute, `-g` the gap between words).
 */
export function espeakWav(text: string, voice = 'en', args: readonly string[] = []): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'espeak-'));
  try {
    const out = join(dir, 'speech.wav');
    execFileSync('espeak-ng', ['-v', voice, ...args, '-w', out, text]);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A model-package folder holding only a manifest: enough for code that reads manifests. */
export function manifestOnlyPackage(
  modelDir: string,
  name: string,
  languages = ['en', 'de', 'fr'],
  kind: 'base' | 'fine-tuned' = 'base',
): string {
  const dir = join(modelDir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format_version: 1, kind, languages }));
  return dir;
}

/** Parses a PCM16 mono WAV: its rate, the sizes its header states, and the samples. */
export function parseWav(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE' || tag(36) !== 'data') throw new Error('not a canonical WAV');
  return {
    sampleRate: v.getUint32(24, true),
    channels: v.getUint16(22, true),
    bitsPerSample: v.getUint16(34, true),
    dataBytes: v.getUint32(40, true),
    samples: new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.byteLength)),
  };
}

/** A supertest parser that keeps the body as bytes, in order (its default parsers do not cover audio). */
export function binaryBody(res: NodeJS.ReadableStream, cb: (err: Error | null, body: Buffer) => void): void {
  const parts: Buffer[] = [];
  res.on('data', (d: Buffer) => parts.push(d));
  res.on('end', () => cb(null, Buffer.concat(parts)));
}
