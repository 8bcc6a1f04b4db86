/**
 * Uploaded audio made safe to keep: a voice reference (decoded, checked, cut to its best
 * speech, stored as a 22,050 Hz float WAV the engine reads without surprises) and a plain
 * decode for recordings that are kept whole. These run inside the audio sandbox's worker
 * (sandbox.ts); they read files a piece at a time, never whole.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { limits } from '../../infra/index.ts';
import { analyseReference, type ReferenceReport } from './analyse.ts';
import { decodeSource } from './decode.ts';
import { AudioInputError } from './errors.ts';
import { type ByteSource, bufferSource } from './probe.ts';
import { GPT_SAMPLE_RATE } from './reference.ts';
import { resample } from './resample.ts';
import { encodeFloatWav, encodeWav } from './wav.ts';

export type AudioInput = { path: string } | { bytes: Uint8Array };

export type PreparedReference = {
  /** The reference to store and condition on: mono float WAV at 22,050 Hz. */
  wav: Uint8Array;
  /** The upload's own sample rate. */
  sampleRate: number;
  /** Seconds kept. */
  durationS: number;
  report: ReferenceReport;
};

/** Opens a file for piecewise reads; the caller closes it. */
export function fileSource(path: string): ByteSource & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return got < n ? out.subarray(0, got) : out;
    },
    close: () => closeSync(fd),
  };
}

function withSource<T>(input: AudioInput, use: (src: ByteSource) => Promise<T>): Promise<T> {
  if ('bytes' in input) return use(bufferSource(input.bytes));
  const src = fileSource(input.path);
  return use(src).finally(() => src.close());
}

export async function prepareReference(input: AudioInput, deadline: number): Promise<PreparedReference> {
  return withSource(input, async (src) => {
    const decoded = await decodeSource(src, { deadline, maxSeconds: limits.audio.maxAnalysisSeconds });
    const report = analyseReference(decoded.samples, decoded.sampleRate, { truncated: decoded.truncated, deadline });
    const from = Math.floor(report.kept.startS * decoded.sampleRate);
    const to = Math.min(decoded.samples.length, Math.ceil(report.kept.endS * decoded.sampleRate));
    const kept = resample(decoded.samples.subarray(from, to), decoded.sampleRate, GPT_SAMPLE_RATE);
    return {
      wav: encodeFloatWav(kept, GPT_SAMPLE_RATE),
      sampleRate: decoded.sampleRate,
      durationS: kept.length / GPT_SAMPLE_RATE,
      report,
    };
  });
}

/** Decoded mono audio of a recording kept whole (a sentence): a longer one is refused. */
export async function decodeWhole(
  input: AudioInput,
  deadline: number,
): Promise<{ samples: Float32Array; sampleRate: number }> {
  return withSource(input, async (src) => {
    const seconds = limits.audio.maxRecordingSeconds;
    const d = await decodeSource(src, { deadline, maxSeconds: seconds });
    if (d.truncated) throw new AudioInputError('AUDIO_TOO_LONG', `the recording is longer than ${seconds} s`);
    return { samples: d.samples, sampleRate: d.sampleRate };
  });
}

export type PreparedRecording = {
  /** Mono PCM16 WAV at the asked rate: the upload's own bytes when it already is one, else re-encoded. */
  wav: Uint8Array;
  sampleRate: number;
  durationS: number;
};

/**
 * A recording kept whole, made ready to store: decoded, resampled to `sampleRate` and encoded
 * as a mono PCM16 WAV, all here rather than on the server's event loop. A file that already is
 * a plain mono PCM16 WAV at that rate is kept byte for byte.
 */
export async function prepareRecording(
  input: AudioInput,
  sampleRate: number,
  deadline: number,
): Promise<PreparedRecording> {
  const d = await decodeWhole(input, deadline);
  const durationS = d.samples.length / d.sampleRate;
  if (d.sampleRate === sampleRate) {
    const own = 'bytes' in input ? input.bytes : undefined;
    const bytes = own ?? readWhole(input as { path: string }, 44 + 2 * d.samples.length);
    if (bytes && isPlainMonoPcm16(bytes)) return { wav: bytes, sampleRate, durationS };
  }
  const samples = resample(d.samples, d.sampleRate, sampleRate);
  if (performance.now() > deadline) {
    throw new AudioInputError('AUDIO_TOO_COMPLEX', 'preparing the recording took longer than its time budget');
  }
  return { wav: encodeWav(samples, sampleRate), sampleRate, durationS };
}

/** The file's bytes when it is exactly `expected` long (a plain WAV of the decoded samples), else undefined. */
function readWhole(input: { path: string }, expected: number): Uint8Array | undefined {
  const src = fileSource(input.path);
  try {
    return src.size === expected ? src.read(0, expected) : undefined;
  } finally {
    src.close();
  }
}

/** A 44-byte-header RIFF/WAVE, PCM 16-bit mono, its data chunk straight after fmt and filling the file. */
export function isPlainMonoPcm16(b: Uint8Array): boolean {
  if (b.length < 46) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const tag = (at: number) => String.fromCharCode(...b.subarray(at, at + 4));
  return (
    tag(0) === 'RIFF' &&
    tag(8) === 'WAVE' &&
    tag(12) === 'fmt ' &&
    v.getUint32(16, true) === 16 &&
    v.getUint16(20, true) === 1 &&
    v.getUint16(22, true) === 1 &&
    v.getUint16(34, true) === 16 &&
    tag(36) === 'data' &&
    v.getUint32(40, true) === b.length - 44
  );
}
