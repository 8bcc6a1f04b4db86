"""Reading a Coqui XTTS-v2 model folder into the project's modules.

Every failure names the file it comes from: a missing file, an unreadable pickle, a missing or
misshapen tensor. Handles the layouts seen in the wild (docs/xtts-v2-facts.md §7, §8): the released model.pth
(`{"model": state}`), Trainer checkpoints (`xtts.` prefix plus `dvae.*` and mel-extractor buffers),
checkpoints saved after a test run (aliases under `gpt.gpt_inference.*` and `gpt.gpt.wte`), and both
weight-norm key layouts."""
import json
import os
from typing import Dict, Tuple

import torch

from .config import load_config, sizes_from_config
from .dvae import DiscreteVAE
from .model import Xtts

MODEL_FILES = ["model.pth", "dvae.pth", "mel_stats.pth", "vocab.json", "config.json"]

# Key prefixes that are not part of the inference model: training-side modules, and aliases of
# weights that exist under their own names (gpt_inference wraps gpt.gpt, the embeddings and heads).
DROPPED_PREFIXES = ("dvae.", "torch_mel_spectrogram_style_encoder.", "torch_mel_spectrogram_dvae.",
                    "gpt.gpt_inference.", "gpt.gpt.wte.")


def _torch_load(path: str):
    if not os.path.isfile(path):
        raise ValueError(f"{path}: missing")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # torch < 1.13 has no weights_only
            return torch.load(path, map_location="cpu")
    except Exception as e:  # pickle, zip and EOF errors all mean the same thing here
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from None


def _is_old_hf_buffer(k: str) -> bool:
    # transformers < 4.31 saved the causal mask as persistent buffers.
    return k.startswith("gpt.gpt.h.") and (k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"))


def normalise_state(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out = {}
    for k, v in state.items():
        if k.startswith("xtts."):
            k = k[len("xtts."):]
        if k.startswith(DROPPED_PREFIXES) or _is_old_hf_buffer(k):
            continue
        if k.endswith(".weight_g"):
            k = k[: -len("weight_g")] + "parametrizations.weight.original0"
        elif k.endswith(".weight_v"):
            k = k[: -len("weight_v")] + "parametrizations.weight.original1"
        out[k] = v
    return out


def _state_of(obj, path: str) -> Dict[str, torch.Tensor]:
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict (or a dict with a 'model' state dict) of tensors")
    return state


def load_strict(module: torch.nn.Module, state: Dict[str, torch.Tensor], path: str, only_prefix: str = "") -> None:
    """load_state_dict(strict=True) with a message that names the file and the offending keys.
    With only_prefix, keys outside it are neither required nor loaded."""
    own = module.state_dict()
    if only_prefix:
        own = {k: v for k, v in own.items() if k.startswith(only_prefix) or k == "mel_stats"}
        state = {k: v for k, v in state.items() if k.startswith(only_prefix) or k == "mel_stats"}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and state[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {', '.join(missing[:5])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {', '.join(unexpected[:5])})")
    if wrong:
        problems.append(f"{len(wrong)} wrong shapes (first: {'; '.join(wrong[:3])})")
    if problems:
        raise ValueError(f"{path}: does not match the model built from config.json: " + "; ".join(problems))
    module.load_state_dict(state, strict=not only_prefix)


def read_vocab(path: str) -> Tuple[dict, int, int, int]:
    """Returns (tokenizer json, number of text tokens, [START] id, [STOP] id)."""
    try:
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
        vocab = tok["model"]["vocab"]
        ids = list(vocab.values()) + [t["id"] for t in tok.get("added_tokens", [])]
        special = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
        special.update({k: v for k, v in vocab.items() if k in ("[START]", "[STOP]")})
        return tok, max(ids) + 1, special["[START]"], special["[STOP]"]
    except FileNotFoundError:
        raise ValueError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a tokenizers vocab.json with [START] and [STOP] ({type(e).__name__}: {e})") from None


def read_model_folder(folder: str, gpt_only: bool = False):
    """Loads and checks a Coqui model folder. Returns (config dict, sizes, Xtts, DiscreteVAE or None,
    vocab json). gpt_only (fine-tuned checkpoints): only gpt.* and mel_stats are required."""
    for name in (["model.pth", "vocab.json", "config.json"] if gpt_only else MODEL_FILES):
        if not os.path.isfile(os.path.join(folder, name)):
            raise ValueError(f"{os.path.join(folder, name)}: missing")
    cfg = load_config(os.path.join(folder, "config.json"))
    tok, n_text, start, stop = read_vocab(os.path.join(folder, "vocab.json"))
    sizes = sizes_from_config(cfg)
    # Coqui v2 takes the text vocabulary size and START/STOP from vocab.json, not config.json.
    sizes.gpt_number_text_tokens, sizes.gpt_start_text_token, sizes.gpt_stop_text_token = n_text, start, stop
    model = Xtts(sizes)
    mpath = os.path.join(folder, "model.pth")
    state = normalise_state(_state_of(_torch_load(mpath), mpath))
    load_strict(model, state, mpath, only_prefix="gpt." if gpt_only else "")
    model.eval()
    dvae = None
    if not gpt_only:
        spath = os.path.join(folder, "mel_stats.pth")
        stats = _torch_load(spath)
        if not torch.is_tensor(stats) or tuple(stats.shape) != (80,):
            raise ValueError(f"{spath}: expected a tensor of 80 mel-bin divisors")
        if not torch.allclose(stats.float(), model.mel_stats.float(), rtol=1e-5, atol=1e-6):
            raise ValueError(f"{spath}: differs from the mel_stats buffer in model.pth")
        dpath = os.path.join(folder, "dvae.pth")
        dvae = DiscreteVAE(sizes)
        load_strict(dvae, _state_of(_torch_load(dpath), dpath), dpath)
        dvae.eval()
    return cfg, sizes, model, dvae, tok
