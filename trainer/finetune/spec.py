"""The run specification (SPEC.json) and its defaults. Defaults are Coqui's XTTS-v2 GPT recipe
(docs/xtts-v2-facts.md §7 RC): AdamW (0.9, 0.96), eps 1e-8, weight decay 0.01 on weights only, lr 5e-6,
MultiStepLR [900000, 2700000, 5400000] x 0.5 stepped per epoch (so the LR is constant in practice),
batch 3 x grad_accum 84, max_wav_length 255995, max_text_tokens 200, loss weights 0.01 / 1.0,
start_with_eval, no gradient clipping, fp32."""
import json
import os
from typing import Any, Dict

from .forward import DEFAULT_PROMPT_MASKING, PROMPT_MASKING

DEFAULTS: Dict[str, Any] = {
    "lr": 5e-6, "betas": [0.9, 0.96], "eps": 1e-8, "weight_decay": 0.01,
    "milestones": [900000, 2700000, 5400000], "gamma": 0.5,
    "batch_size": 3, "eval_batch_size": 0,  # 0: same as batch_size (the recipe's eval_batch_size is 3 too)
    "grad_accum": 84, "max_wav_length": 255995, "max_text_tokens": 200, "epochs": 10, "save_every_steps": 0,
    "seed": 1, "precision": "fp32", "gradient_checkpointing": False, "num_workers": 0, "device": "auto",
    "prompt_masking": DEFAULT_PROMPT_MASKING, "loss_text_weight": 0.01, "loss_mel_weight": 1.0,
    "start_with_eval": True, "dropout": 0.1, "grad_clip": 0.0, "log_every_steps": 1,
    # Testing aid: stop the process abruptly (exit 3, no cleanup) right after this optimizer step,
    # as a crash would. 0 = never.
    "stop_after_steps": 0,
}
REQUIRED = ["run_dir", "base_model_dir", "base_package", "dataset_dir", "language", "export_dir"]


class SpecError(Exception):
    pass


def load_spec(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SpecError(f"{path}: not a readable JSON spec ({e})") from None
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: expected a JSON object")
    missing = [k for k in REQUIRED if not isinstance(spec.get(k), str) or not spec[k]]
    if missing:
        raise SpecError(f"{path}: missing {', '.join(missing)}")
    cfg = dict(DEFAULTS)
    user = spec.get("config") or {}
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        raise SpecError(f"{path}: unknown config keys {', '.join(unknown)}")
    cfg.update(user)
    if cfg["precision"] not in ("fp32", "bf16", "fp16"):
        raise SpecError(f"precision must be fp32, bf16 or fp16, not {cfg['precision']!r}")
    if cfg["prompt_masking"] not in PROMPT_MASKING:
        raise SpecError(f"prompt_masking must be one of {', '.join(PROMPT_MASKING)}")
    for k in ("batch_size", "grad_accum", "epochs"):
        if not isinstance(cfg[k], int) or cfg[k] < 1:
            raise SpecError(f"config.{k} must be a positive integer")
    cfg["eval_batch_size"] = cfg["eval_batch_size"] or cfg["batch_size"]
    out = {k: (os.path.abspath(spec[k]) if k != "language" else spec[k]) for k in REQUIRED}
    out["config"] = cfg
    out["name"] = spec.get("name") or os.path.basename(out["run_dir"].rstrip("/"))
    return out
