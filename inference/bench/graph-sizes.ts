import type { Manifest } from '../xtts/manifest.ts';

/**
 * The GPT sizes the batched-decode benchmarks need, as `python3 -m xtts.bench.batch_graphs` writes
 * them to sizes.json beside its graphs, or as a model package's manifest gives them.
 */
export type GraphSizes = {
  size: string;
  layers: number;
  width: number;
  heads: number;
  text_tokens: number;
  audio_start: number;
  vocab: number;
  latents: number;
  max_codes: number;
};

/** A package's GPT sizes, from its manifest (`pkg` names it in `size`). */
export function packageGraphSizes(pkg: string, m: Manifest): GraphSizes {
  const c = m.model.config as Record<string, number>;
  return {
    size: `package ${pkg}`,
    layers: c.gpt_layers as number,
    width: c.gpt_n_model_channels as number,
    heads: c.gpt_n_heads as number,
    text_tokens: c.gpt_number_text_tokens as number,
    audio_start: m.tokens.audio_start,
    vocab: c.gpt_num_audio_tokens as number,
    latents: c.perceiver_latents as number,
    max_codes: m.tokens.max_audio_codes,
  };
}
