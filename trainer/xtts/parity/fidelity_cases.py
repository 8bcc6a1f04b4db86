"""The models of the fidelity check against Coqui's own XTTS classes (trainer/reference/coqui_model.py
writes the reference numbers, inference/xtts/fidelity.test.ts compares the TypeScript engine with
them). Plain data, imported in both Python environments.

Coqui hard-codes the HiFi-GAN, the speaker encoder and the perceiver's sizes, so a smaller Coqui
model differs from the released one only in the GPT's width, depth and heads (the HiFi-GAN's
input width follows the GPT's). The small width is 40: the conditioning encoder's GroupNorm then
takes the 17-64 rule (16 groups) and halves it to 8, since 16 does not divide 40; the released
1024 takes 32. The group rule itself is also compared width by width (GROUP_WIDTHS)."""

# Inputs: the reference clip and the sentence, as Coqui's Xtts.inference gets them.
CLIP = "test/fixtures/tiny/ref.wav"
TEXT = "Hello, world! This is a test."
LANGUAGE = "en"
# Released XTTS-v2 config.json values, passed to Coqui's get_conditioning_latents (as its
# synthesize() does) and written into the project's config.json by make_config.
VOICE = {"max_ref_length": 30, "gpt_cond_len": 30, "gpt_cond_chunk_len": 4, "sound_norm_refs": False}
PENALTIES = [1.0, 5.0, 10.0]
STEPS = 50

AUDIO_TOKENS = {"gpt_num_audio_tokens": 1026, "gpt_start_audio_token": 1024, "gpt_stop_audio_token": 1025,
                "gpt_use_perceiver_resampler": True, "gpt_max_audio_tokens": 605, "gpt_max_text_tokens": 402,
                "gpt_max_prompt_tokens": 70, "gpt_code_stride_len": 1024}

# "wide" is the released width and heads at 4 of its 30 layers: every shape the released model has, at
# a depth whose export and decode take seconds; "full" (all 30 layers) is the same check at full size,
# minutes of export, run on demand (FIDELITY_FULL=1, see inference/xtts/fidelity.test.ts).
CASES = {
    "wide": {"seed": 1025, "model_args": {**AUDIO_TOKENS, "gpt_layers": 4, "gpt_n_model_channels": 1024,
                                           "gpt_n_heads": 16, "decoder_input_dim": 1024, "d_vector_dim": 512}},
    "full": {"seed": 1024, "model_args": {**AUDIO_TOKENS, "gpt_layers": 30, "gpt_n_model_channels": 1024,
                                           "gpt_n_heads": 16, "decoder_input_dim": 1024, "d_vector_dim": 512}},
    "small": {"seed": 40, "model_args": {**AUDIO_TOKENS, "gpt_layers": 2, "gpt_n_model_channels": 40,
                                         "gpt_n_heads": 4, "decoder_input_dim": 40, "d_vector_dim": 512}},
}

# Widths whose GroupNorm group count is compared with Coqui's normalization(): every width it
# accepts up to 1100, so each branch (8, 16, 32 groups) and each halving is covered.
GROUP_WIDTHS = list(range(1, 1101))
