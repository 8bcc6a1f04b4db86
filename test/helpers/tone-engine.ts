import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AudioChunk,
  decodeAudio,
  type Engine,
  EngineError,
  type SynthesisRequest,
  type VoiceConditioning,
} from '../../inference/index.ts';

/**
 * A test double of the engine for the HTTP layer's own tests (routing, streaming, formats,
 * errors, cancellation): it decodes clips for real but "speaks" a tone whose pitch follows the
 * seed and whose length follows the text. The real engine's behaviour is tested against the
 * PyTorch reference elsewhere; here only the contract of inference/engine/types.ts matters.
 */
export type ToneEngineOptions = {
  /** Samples per chunk (24 kHz). */
  chunkSamples?: number;
  /** Milliseconds between chunks, to observe streaming. */
  chunkDelayMs?: number;
  /** Throw an ENGINE_FAILED error after this many chunks. */
  failAfterChunks?: number;
  /**
   * Awaited before chunk `index` is made: a test holds a request at a chunk for exactly as
   * long as it wants (a slow device, deterministically) and lets it go by resolving.
   */
  gate?: (index: number) => Promise<void> | undefined;
};

export function toneEngine(options: ToneEngineOptions = {}): Engine & { aborted: number; active: number } {
  const chunkSamples = options.chunkSamples ?? 4800;
  const state = { aborted: 0, active: 0 };
  const engine = {
    get aborted() {
      return state.aborted;
    },
    get active() {
      return state.active;
    },
    async computeVoice(packageDir: string, clips: Uint8Array[]): Promise<VoiceConditioning> {
      const manifest = await readFile(join(packageDir, 'manifest.json')).catch(() => {
        throw new EngineError('MODEL_NOT_FOUND', `no model package at ${packageDir}`);
      });
      if (clips.length === 0) throw new EngineError('AUDIO_INVALID', 'no reference clips', 'clips');
      let energy = 0;
      for (const [i, clip] of clips.entries()) {
        const audio = await decodeAudio(clip).catch((err: Error) => {
          throw new EngineError('AUDIO_INVALID', err.message, `clips.${i}`);
        });
        energy += audio.samples.reduce((a, s) => a + s * s, 0) / audio.samples.length;
      }
      return {
        packageKey: createHash('sha256').update(manifest).digest('hex'),
        gptCondLatent: new Float32Array(32 * 8).fill(energy),
        gptCondShape: [1, 32, 8],
        speakerEmbedding: new Float32Array(512).fill(energy / 2),
        speakerShape: [1, 512, 1],
      };
    },
    async *synthesize(req: SynthesisRequest): AsyncGenerator<AudioChunk> {
      if (!req.text.trim()) throw new EngineError('TEXT_EMPTY', 'text is empty', 'text');
      if (!['en', 'de', 'fr'].includes(req.language)) {
        throw new EngineError('LANGUAGE_UNSUPPORTED', `language ${req.language} is not supported`, 'language');
      }
      state.active++;
      try {
        const seed = req.params?.seed ?? 0;
        const hz = 200 + (seed % 200);
        const total = Math.max(1, Math.ceil(req.text.length / 10)) * chunkSamples;
        const chunks = Math.ceil(total / chunkSamples);
        for (let index = 0; index < chunks; index++) {
          if (req.signal?.aborted) {
            state.aborted++;
            return;
          }
          if (options.failAfterChunks !== undefined && index >= options.failAfterChunks) {
            throw new EngineError('ENGINE_FAILED', 'the engine failed mid-stream');
          }
          if (options.chunkDelayMs) await new Promise((r) => setTimeout(r, options.chunkDelayMs));
          await options.gate?.(index);
          const samples = new Float32Array(Math.min(chunkSamples, total - index * chunkSamples));
          for (let i = 0; i < samples.length; i++) {
            samples[i] = 0.5 * Math.sin((2 * Math.PI * hz * (index * chunkSamples + i)) / 24000);
          }
          yield { samples, sampleRate: 24000, index, final: index === chunks - 1 };
        }
      } finally {
        state.active--;
      }
    },
    stats: () => ({ active: state.active, queued: 0, packages: [] }),
    close: async () => {},
  };
  return engine;
}
