import type { AudioChunk } from './types.ts';

/** Every chunk of a synthesis, joined into one clip (for whole-file answers and stimuli). */
export async function collectSamples(
  chunks: AsyncIterable<AudioChunk>,
): Promise<{ samples: Float32Array; sampleRate: number }> {
  const parts: Float32Array[] = [];
  let sampleRate = 24000;
  for await (const c of chunks) {
    parts.push(c.samples);
    sampleRate = c.sampleRate;
  }
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, sampleRate };
}
