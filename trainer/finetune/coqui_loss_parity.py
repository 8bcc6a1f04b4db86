"""Loss parity of the project's training forward (finetune/forward.py) with Coqui's own GPT.forward.

    reference: /tmp/coqui-venv/bin/python -m finetune.coqui_loss_parity reference OUT.json --coqui SRC
    check:     python -m finetune.coqui_loss_parity check trainer/finetune/fixtures/coqui_loss_parity.json

`reference` needs a copy of idiap/coqui-ai-TTS (SRC holds its TTS/ folder) and transformers + einops in
a throwaway environment. It builds Coqui's GPT, loads weights drawn from a seed by this module into it
and into the project's XttsGPT, runs GPT.forward in eval mode on one seeded batch (with Coqui's
prompt masking and without), backpropagates 0.01 * text + 1.0 * mel, and writes Coqui's numbers (and,
for information, the project's) to the fixture. Coqui's package __init__ files (which import the
trainer, coqpit, librosa, ...) are bypassed by registering bare package modules; torchaudio is a
stub because only the unused mel extractor imports it; transformers 5 lacks isin_mps_friendly, which
autoregressive.py imports (torch.isin is what it stood for). No Coqui file is modified.

`check` needs only the project: it rebuilds the same weights and batch from the seeds and compares its
losses (abs 1e-5) and gradients (relative 1e-4) with the fixture's Coqui numbers."""
import argparse
import importlib.machinery
import json
import math
import os
import sys
import types

import torch

from xtts.model.config import XttsSizes
from xtts.model.gpt import XttsGPT

from .forward import gpt_losses

CONFIGS = {
    # The released model's GPT, and a narrow one. Coqui hard-codes 6 conditioning blocks and 8x64
    # perceiver heads, so the narrow one keeps those. Coqui's normalization() uses 32 GroupNorm groups only
    # above 64 channels (8 up to 16, 16 up to 64) while xtts/model/conditioning.py always uses 32: 128 is the
    # narrowest width where both agree.
    "full": dict(gpt_layers=30, gpt_n_model_channels=1024, gpt_n_heads=16),
    "small": dict(gpt_layers=2, gpt_n_model_channels=128, gpt_n_heads=4),
}
COMMON = dict(gpt_number_text_tokens=300, gpt_start_text_token=261, gpt_stop_text_token=0, gpt_max_text_tokens=402,
              gpt_max_audio_tokens=605, cond_encoder_blocks=6, perceiver_heads=8, perceiver_dim_head=64, perceiver_depth=2)
GRAD_PARAMS = ["conditioning_encoder.init.weight", "conditioning_perceiver.latents", "text_embedding.weight",
               "mel_embedding.weight", "gpt.h.0.attn.c_attn.weight", "gpt.h.1.mlp.c_proj.bias", "final_norm.weight",
               "mel_head.weight", "text_head.bias"]
LOSS_ATOL, GRAD_RTOL = 1e-5, 1e-4


def sizes_for(kind: str) -> XttsSizes:
    return XttsSizes(**COMMON, **CONFIGS[kind])


def seeded_state(gpt: XttsGPT, seed: int) -> dict:
    """Weights at realistic scales, drawn in key order from one generator (independent of how either
    implementation initialises)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sorted(gpt.state_dict().items()):
        if k.endswith("bias"):
            t = torch.randn(v.shape, generator=g) * 0.02
        elif "norm" in k or k.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight", "gamma")):
            t = 1.0 + torch.randn(v.shape, generator=g) * 0.05
        elif k.startswith("gpt.h.") or "embedding" in k or k.endswith("latents"):
            t = torch.randn(v.shape, generator=g) * 0.02
        else:
            t = torch.randn(v.shape, generator=g) / math.sqrt(v[0].numel() if v.dim() > 1 else v.numel())
        out[k] = t
    return out


def make_batch(seed: int, n_text: int):
    g = torch.Generator().manual_seed(seed)
    wav_lengths = torch.tensor([150000, 61000, 203000])
    text_lengths = torch.tensor([37, 80, 12])
    text = torch.zeros(3, 80, dtype=torch.long)  # zero padding, as Coqui's collate makes it ([STOP] = 0)
    for i, n in enumerate(text_lengths.tolist()):
        text[i, :n] = torch.randint(3, n_text, (n,), generator=g)
    codes = torch.randint(0, 1024, (3, math.ceil(203000 / 1024) + 1), generator=g)
    cond_mels = torch.randn(3, 1, 80, 517, generator=g) * 0.5 - 1.0
    cond_idxs = torch.tensor([[1000, 90000], [0, 30500], [20000, 130000]])
    return text, text_lengths, codes, wav_lengths, cond_mels, cond_idxs


def project_numbers(kind: str, seed: int = 11) -> dict:
    sizes = sizes_for(kind)
    gpt = XttsGPT(sizes)
    gpt.load_state_dict(seeded_state(gpt, seed))
    gpt.eval()
    text, tl, codes, wl, cm, ci = make_batch(seed + 1, sizes.gpt_number_text_tokens)
    out = {}
    for mode, idxs in (("coqui_masking", ci), ("no_masking", None)):
        gpt.zero_grad()
        r = gpt_losses(gpt, cm.squeeze(1), text, tl, codes, wl, None if idxs is None else idxs.clone(), "coqui", 0.0)
        (0.01 * r["text"] + 1.0 * r["mel"]).backward()
        grads = dict(gpt.named_parameters())
        out[mode] = {"loss_text": float(r["text"]), "loss_mel": float(r["mel"]),
                     "grads": {n: _grad_summary(grads[n].grad) for n in GRAD_PARAMS}}
    return out


def _grad_summary(g: torch.Tensor) -> dict:
    flat = g.detach().double().flatten()
    return {"norm": float(flat.norm()), "first": flat[:8].tolist(), "max_abs": float(flat.abs().max())}


def coqui_numbers(kind: str, src: str, seed: int = 11) -> dict:
    for name in ["TTS", "TTS.tts", "TTS.tts.layers", "TTS.tts.layers.xtts", "TTS.tts.layers.tortoise", "TTS.utils"]:
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(src, *name.split("."))]
        sys.modules[name] = m
    import transformers.pytorch_utils as pu
    from transformers import GPT2Model  # noqa: F401  (imported before the torchaudio stub exists)
    if not hasattr(pu, "isin_mps_friendly"):
        pu.isin_mps_friendly = torch.isin
    stub = types.ModuleType("torchaudio")
    stub.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules.setdefault("torchaudio", stub)
    from TTS.tts.layers.xtts.gpt import GPT

    s = sizes_for(kind)
    ref = GPT(layers=s.gpt_layers, model_dim=s.gpt_n_model_channels, start_text_token=s.gpt_start_text_token,
              stop_text_token=s.gpt_stop_text_token, heads=s.gpt_n_heads, max_text_tokens=s.gpt_max_text_tokens,
              max_mel_tokens=s.gpt_max_audio_tokens, max_prompt_tokens=70, number_text_tokens=s.gpt_number_text_tokens,
              num_audio_tokens=1026, start_audio_token=1024, stop_audio_token=1025, use_perceiver_resampler=True,
              code_stride_len=1024)
    state = seeded_state(XttsGPT(s), seed)
    missing, unexpected = ref.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"key mismatch with Coqui's GPT: missing {missing[:5]}, unexpected {unexpected[:5]}")
    ref.eval()
    text, tl, codes, wl, cm, ci = make_batch(seed + 1, s.gpt_number_text_tokens)
    out = {"attn_implementation": getattr(ref.gpt.config, "_attn_implementation", None)}
    for mode, idxs in (("coqui_masking", ci), ("no_masking", None)):
        ref.zero_grad()
        lt, lm, _ = ref(text.clone(), tl.clone(), codes.clone(), wl.clone(), cond_mels=cm.clone(),
                        cond_idxs=None if idxs is None else idxs.clone())
        (0.01 * lt + 1.0 * lm).backward()
        grads = dict(ref.named_parameters())
        out[mode] = {"loss_text": float(lt), "loss_mel": float(lm),
                     "grads": {n: _grad_summary(grads[n].grad) for n in GRAD_PARAMS}}
    return out


def compare(ref: dict, mine: dict) -> dict:
    rep, ok = {}, True
    for mode in ("coqui_masking", "no_masking"):
        r, m = ref[mode], mine[mode]
        d = {"loss_text_abs_err": abs(r["loss_text"] - m["loss_text"]), "loss_mel_abs_err": abs(r["loss_mel"] - m["loss_mel"])}
        worst = 0.0
        for n in GRAD_PARAMS:
            a, b = r["grads"][n], m["grads"][n]
            scale = max(a["max_abs"], 1e-30)
            worst = max(worst, abs(a["norm"] - b["norm"]) / max(a["norm"], 1e-30),
                        max(abs(x - y) for x, y in zip(a["first"], b["first"])) / scale)
        d["grad_max_rel_err"] = worst
        ok &= d["loss_text_abs_err"] <= LOSS_ATOL and d["loss_mel_abs_err"] <= LOSS_ATOL and worst <= GRAD_RTOL
        rep[mode] = d
    rep["ok"] = ok
    return rep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["reference", "check"])
    p.add_argument("fixture")
    p.add_argument("--coqui", default="", help="folder holding Coqui's TTS/ package (reference only)")
    p.add_argument("--sizes", default="small,full")
    a = p.parse_args()
    kinds = a.sizes.split(",")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if a.action == "reference":
        import einops
        import transformers
        fixture = {"about": "Coqui GPT.forward losses and gradients on seeded weights/batch (finetune/coqui_loss_parity.py)",
                   "coqui": {"repo": "idiap/coqui-ai-TTS", "commit": os.environ.get("COQUI_COMMIT", "unknown")},
                   "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                "einops": einops.__version__, "python": sys.version.split()[0]},
                   "sizes": {}}
        for k in kinds:
            ref = coqui_numbers(k, a.coqui)
            mine = project_numbers(k)
            fixture["sizes"][k] = {"config": CONFIGS[k], "coqui": ref, "project_at_reference_time": mine,
                                   "comparison": compare(ref, mine)}
            print(json.dumps({k: fixture["sizes"][k]["comparison"]}), file=sys.stderr)
        with open(a.fixture, "w") as f:
            json.dump(fixture, f, indent=1)
        return
    with open(a.fixture) as f:
        fixture = json.load(f)
    report = {k: compare(fixture["sizes"][k]["coqui"], project_numbers(k)) for k in kinds}
    print(json.dumps(report))
    sys.exit(0 if all(r["ok"] for r in report.values()) else 1)


if __name__ == "__main__":
    main()
