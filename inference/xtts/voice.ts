/**
 * A voice from one or more reference clips, combined as the reference's
 * `get_conditioning_latents` combines them: one speaker embedding per clip (each L2-normalised
 * by the graph), averaged and not re-normalised; the clips concatenated in time for the GPT
 * conditioning, of which the first `gpt_cond_len` seconds are cut into `gpt_cond_chunk_len`-second
 * chunks (chunks under 0.33 s skipped), each encoded, and the results averaged.
 */
import { conditioningMel } from '../audio/mel.ts';
import { GPT_SAMPLE_RATE, MIN_REFERENCE_SECONDS, toSpeakerRate } from '../audio/reference.ts';
import type { VoiceConditioning } from '../engine/types.ts';
import { tensor } from '../runtime/index.ts';
import type { ModelPackage } from './package.ts';

/** Settings that decide the conditioning; default to the package's generation block. */
export type VoiceOptions = { gptCondSeconds?: number; chunkSeconds?: number };

/** The 80-bin conditioning log-mel as a flat [80 * frames] row-major array. */
export function melTensorData(signal22k: Float32Array, melStats: Float32Array): { data: Float32Array; frames: number } {
  const mel = conditioningMel(signal22k, melStats);
  const frames = mel[0]?.length ?? 0;
  const data = new Float32Array(mel.length * frames);
  mel.forEach((row, m) => {
    data.set(row, m * frames);
  });
  return { data, frames };
}

/** GPT conditioning latents [1, latents, width] of a 22050 Hz signal (already cut to max_ref_len). */
export async function gptCondLatents(pkg: ModelPackage, audio22k: Float32Array, options: VoiceOptions = {}) {
  const g = pkg.manifest.generation;
  const keep = Math.floor((options.gptCondSeconds ?? g.gpt_cond_len) * GPT_SAMPLE_RATE);
  const step = Math.floor((options.chunkSeconds ?? g.gpt_cond_chunk_len) * GPT_SAMPLE_RATE);
  const audio = audio22k.subarray(0, keep);
  let sum: Float32Array | undefined;
  let dims: readonly number[] = [];
  let count = 0;
  for (let i = 0; i < audio.length; i += step) {
    const chunk = audio.subarray(i, i + step);
    if (chunk.length < GPT_SAMPLE_RATE * MIN_REFERENCE_SECONDS) continue;
    const { data, frames } = melTensorData(chunk, pkg.melStats);
    const out = await pkg.sessions.condEncoder.run({ mel: tensor('float32', data, [1, 80, frames]) });
    const cond = out.cond;
    if (!cond) throw new Error('cond_encoder returned no cond');
    const values = cond.data as Float32Array;
    sum ??= new Float32Array(values.length);
    for (let j = 0; j < values.length; j++) sum[j] = (sum[j] as number) + (values[j] as number);
    dims = cond.dims;
    count++;
  }
  if (!sum || count === 0) throw new RangeError('no conditioning chunk of at least 0.33 s');
  // torch.stack(...).mean(0) in float32: the sum then one division, as above.
  for (let j = 0; j < sum.length; j++) sum[j] = (sum[j] as number) / count;
  return { data: sum, dims: [...dims] };
}

/** L2-normalised speaker embedding [1, d] of one 22050 Hz reference. */
export async function speakerEmbedding(pkg: ModelPackage, audio22k: Float32Array): Promise<Float32Array> {
  const wav = toSpeakerRate(audio22k);
  const out = await pkg.sessions.speakerEncoder.run({ wav16k: tensor('float32', wav, [1, wav.length]) });
  const spk = out.speaker;
  if (!spk) throw new Error('speaker_encoder returned no speaker');
  return Float32Array.from(spk.data as Float32Array);
}

/** clips: references at 22050 Hz, each already cut to max_ref_len (see audio/reference.ts). */
export async function computeVoiceFromAudio(
  pkg: ModelPackage,
  clips: readonly Float32Array[],
  options: VoiceOptions = {},
): Promise<VoiceConditioning> {
  if (clips.length === 0) throw new RangeError('at least one reference clip is needed');
  const d = pkg.manifest.model.config.d_vector_dim;
  const speaker = new Float32Array(d);
  for (const clip of clips) {
    const e = await speakerEmbedding(pkg, clip);
    for (let i = 0; i < d; i++) speaker[i] = (speaker[i] as number) + (e[i] as number);
  }
  for (let i = 0; i < d; i++) speaker[i] = (speaker[i] as number) / clips.length;
  const total = clips.reduce((n, c) => n + c.length, 0);
  const joined = new Float32Array(total);
  let at = 0;
  for (const c of clips) {
    joined.set(c, at);
    at += c.length;
  }
  const cond = await gptCondLatents(pkg, joined, options);
  return {
    packageKey: pkg.key,
    gptCondLatent: cond.data,
    gptCondShape: cond.dims,
    speakerEmbedding: speaker,
    speakerShape: [1, d, 1],
  };
}
