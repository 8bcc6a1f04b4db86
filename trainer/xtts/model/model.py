"""The XTTS-v2 inference model: `gpt.*`, `hifigan_decoder.*` and the `mel_stats` buffer, the
layout of Coqui's model.pth after the `xtts.` prefix and training-only keys are removed."""
from contextlib import contextmanager

import torch
from torch import nn

from .config import XttsSizes
from .gpt import XttsGPT
from .hifigan import HifiDecoder


class Xtts(nn.Module):
    def __init__(self, s: XttsSizes):
        super().__init__()
        self.sizes = s
        self.gpt = XttsGPT(s)
        self.hifigan_decoder = HifiDecoder(s)
        self.register_buffer("mel_stats", torch.ones(80))


@contextmanager
def without_random_init():
    """Modules built inside skip their random initialisation (torch.nn.init), for a caller that
    overwrites every parameter next (seeded weights, a strict checkpoint load): at full size drawing
    467 M random numbers that are thrown away costs seconds. The parameters hold whatever their
    allocation held until then. Buffers a module computes itself (filter banks, windows) are unaffected."""
    names = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
             "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")
    saved = {n: getattr(nn.init, n) for n in names}
    try:
        for n in names:
            setattr(nn.init, n, lambda tensor, *_a, **_k: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


def random_model(s: XttsSizes, seed: int) -> "Xtts":
    """Deterministic random weights at a scale that keeps activations in a realistic range."""
    g = torch.Generator().manual_seed(seed)
    m = Xtts(s)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith((".bias", "beta")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            elif "norm" in name or name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight", "gamma")) \
                    or ".bn" in name or "original0" in name:
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.05)
            elif name.startswith("gpt.gpt.h.") and p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)  # GPT-2's own init scale
            else:
                fan_in = p[0].numel() if p.dim() > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=g) / max(fan_in, 1) ** 0.5)
        for name, b in m.named_buffers():
            if name.endswith("running_var"):
                b.copy_(1.0 + torch.rand(b.shape, generator=g) * 0.2)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.05)
        m.mel_stats.copy_(2.0 + torch.rand(80, generator=g))
    return m.eval()
