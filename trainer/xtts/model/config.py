"""Model sizes read from a Coqui config.json.

Defaults are the released XTTS-v2 values (not Coqui's class defaults, which are v1 numbers).
Keys that Coqui hard-codes (HiFi-GAN, speaker encoder, perceiver, DVAE sizes) may be overridden
under model_args with the names below, so that a tiny random model keeps every key name while
shrinking every matrix."""
import json
from dataclasses import asdict, dataclass, field
from typing import List, Optional

LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko", "ja", "hi"]


@dataclass
class XttsSizes:
    gpt_layers: int = 30
    gpt_n_model_channels: int = 1024
    gpt_n_heads: int = 16
    gpt_number_text_tokens: int = 6681
    gpt_start_text_token: Optional[int] = None
    gpt_stop_text_token: Optional[int] = None
    gpt_num_audio_tokens: int = 1026
    gpt_start_audio_token: int = 1024
    gpt_stop_audio_token: int = 1025
    gpt_max_audio_tokens: int = 605
    gpt_max_text_tokens: int = 402
    gpt_max_prompt_tokens: int = 70
    gpt_code_stride_len: int = 1024
    input_sample_rate: int = 22050
    output_sample_rate: int = 24000
    output_hop_length: int = 256
    decoder_input_dim: int = 1024
    d_vector_dim: int = 512
    cond_d_vector_in_each_upsampling_layer: bool = True
    # Hard-coded in Coqui; overridable here for tiny models.
    cond_encoder_blocks: int = 6
    perceiver_latents: int = 32
    perceiver_heads: int = 8
    perceiver_dim_head: int = 64
    perceiver_depth: int = 2
    hifigan_upsample_initial_channel: int = 512
    hifigan_upsample_rates: List[int] = field(default_factory=lambda: [8, 8, 2, 2])
    hifigan_upsample_kernel_sizes: List[int] = field(default_factory=lambda: [16, 16, 4, 4])
    hifigan_resblock_kernel_sizes: List[int] = field(default_factory=lambda: [3, 7, 11])
    hifigan_resblock_dilation_sizes: List[List[int]] = field(default_factory=lambda: [[1, 3, 5]] * 3)
    speaker_encoder_layers: List[int] = field(default_factory=lambda: [3, 4, 6, 3])
    speaker_encoder_num_filters: List[int] = field(default_factory=lambda: [32, 64, 128, 256])
    dvae_hidden_dim: int = 512
    dvae_codebook_dim: int = 512
    dvae_num_resnet_blocks: int = 3

    # Derived lengths (G: GPT.__init__).
    @property
    def text_positions(self) -> int:
        return self.gpt_max_text_tokens + 2

    @property
    def mel_positions(self) -> int:
        return self.gpt_max_audio_tokens + 2 + 1

    @property
    def max_gen_audio_tokens(self) -> int:
        return self.gpt_max_audio_tokens - 1 - 2

    @property
    def dvae_num_tokens(self) -> int:
        return self.gpt_num_audio_tokens - 2


GENERATION_KEYS = ["temperature", "length_penalty", "repetition_penalty", "top_k", "top_p", "num_gpt_outputs",
                   "gpt_cond_len", "gpt_cond_chunk_len", "max_ref_len", "sound_norm_refs"]
RELEASED_GENERATION = {"temperature": 0.75, "length_penalty": 1.0, "repetition_penalty": 5.0, "top_k": 50,
                       "top_p": 0.85, "num_gpt_outputs": 1, "gpt_cond_len": 30, "gpt_cond_chunk_len": 4,
                       "max_ref_len": 30, "sound_norm_refs": False}


def sizes_from_config(cfg: dict) -> XttsSizes:
    args = cfg.get("model_args", {})
    known = {f for f in XttsSizes.__dataclass_fields__}
    return XttsSizes(**{k: v for k, v in args.items() if k in known})


def generation_from_config(cfg: dict) -> dict:
    return {k: cfg.get(k, v) for k, v in RELEASED_GENERATION.items()}


def load_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_args", {}), dict):
        raise ValueError(f"{path}: expected an object with a model_args object")
    return cfg


def sizes_dict(s: XttsSizes) -> dict:
    return asdict(s)
