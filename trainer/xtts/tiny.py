"""Random-weight model folders laid out like Coqui's release (model.pth, dvae.pth, mel_stats.pth,
vocab.json, config.json), built deterministically from a seed: a tiny one for tests and fixtures,
and a full-size one for benchmarks and the full-size export check.

usage: python3 -m xtts.tiny {tiny|full} OUT_DIR [--seed N] [--old-weight-norm]"""
import argparse
import json
import os

import torch

from .config import LANGUAGES, RELEASED_GENERATION, XttsSizes, sizes_dict
from .dvae import DiscreteVAE
from .model import random_model
from .sentences import SENTENCES
from .vocab import build_vocab

TINY_OVERRIDES = {
    "gpt_layers": 2, "gpt_n_model_channels": 32, "gpt_n_heads": 2, "decoder_input_dim": 32, "d_vector_dim": 16,
    "gpt_max_audio_tokens": 60, "gpt_max_text_tokens": 60,
    "cond_encoder_blocks": 2, "perceiver_heads": 2, "perceiver_dim_head": 16,
    "hifigan_upsample_initial_channel": 32, "speaker_encoder_num_filters": [8, 8, 16, 16],
    "speaker_encoder_layers": [1, 1, 1, 1], "dvae_hidden_dim": 16, "dvae_codebook_dim": 16,
    "dvae_num_resnet_blocks": 1,
}


def make_config(kind: str) -> dict:
    args = sizes_dict(XttsSizes())
    args.update({"gpt_start_text_token": None, "gpt_stop_text_token": None, "gpt_use_perceiver_resampler": True,
                 "gpt_use_masking_gt_prompt_approach": True, "kv_cache": True})
    if kind == "tiny":
        args.update(TINY_OVERRIDES)
    cfg = {"model": "xtts", "model_args": args, "languages": list(LANGUAGES), **RELEASED_GENERATION}
    cfg["audio"] = {"sample_rate": 22050, "output_sample_rate": 24000}
    return cfg


def write_model_folder(out: str, kind: str, seed: int, old_weight_norm: bool = False) -> None:
    from .config import sizes_from_config
    cfg = make_config(kind)
    vocab = build_vocab([s[2] for s in SENTENCES], pad_to=6681 if kind == "full" else 0)
    ids = list(vocab["model"]["vocab"].values())
    sizes = sizes_from_config(cfg)
    sizes.gpt_number_text_tokens = max(ids) + 1
    cfg["model_args"]["gpt_number_text_tokens"] = sizes.gpt_number_text_tokens
    model = random_model(sizes, seed)
    state = model.state_dict()
    if old_weight_norm:
        state = {k.replace("parametrizations.weight.original0", "weight_g")
                  .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
    torch.manual_seed(seed + 1)
    dvae = DiscreteVAE(sizes).eval()
    os.makedirs(out, exist_ok=True)
    # Same container as the release: {"model": state}; the released file carries no config inside.
    torch.save({"model": state}, os.path.join(out, "model.pth"))
    torch.save(dvae.state_dict(), os.path.join(out, "dvae.pth"))
    torch.save(model.mel_stats.clone(), os.path.join(out, "mel_stats.pth"))
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["tiny", "full"])
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--old-weight-norm", action="store_true", help="save weight_g/weight_v keys (older torch)")
    a = p.parse_args()
    write_model_folder(a.out, a.kind, a.seed, a.old_weight_norm)
    print(f"wrote {a.kind} model folder {a.out}")


if __name__ == "__main__":
    main()
