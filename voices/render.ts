import type { Checkpoint, Voice } from '../db/index.ts';
import { collectSamples, encodeAudio } from '../inference/index.ts';
import { conditioningFor, requireEngine, type VoiceDeps } from './voices.ts';

/**
 * Renders one listening-test stimulus: `text` in `voice` by `checkpoint` with `seed`, as a WAV.
 * The same path as /v1/tts, so a stimulus and a later synthesis with the same (checkpoint,
 * text, voice, seed) are the same audio.
 */
export function stimulusRenderer(deps: VoiceDeps) {
  return async (checkpoint: Checkpoint, text: string, voice: Voice, seed: number): Promise<Uint8Array> => {
    const engine = requireEngine(deps.engine);
    const conditioning = await conditioningFor(deps, voice, checkpoint);
    const { samples, sampleRate } = await collectSamples(
      engine.synthesize({
        packageDir: checkpoint.packagePath!,
        text,
        language: voice.language,
        voice: conditioning,
        params: { seed },
      }),
    );
    return encodeAudio('wav', samples, sampleRate);
  };
}
