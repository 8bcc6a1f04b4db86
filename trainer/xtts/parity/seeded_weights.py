"""Random weights that depend only on (seed, tensor name, shape), so that two different
implementations of XTTS-v2 with the same state-dict names get the same numbers without a
checkpoint changing hands: Coqui's own classes (trainer/reference/coqui_model.py, in Coqui's
environment) and this project's modules (xtts.parity.fidelity, in the project's). numpy only; each
tensor is drawn from numpy's default_rng seeded with the seed and the SHA-256 of its name.

Only parameters, BatchNorm statistics and `mel_stats` are drawn; every other buffer (filter
banks, windows, counters) keeps the value the module computed for itself.

The scales keep activations in a realistic range at any width: norms and their biases near 1 and
0, the GPT-2 blocks at GPT-2's own 0.02, everything else 1/sqrt(fan-in). A weight-norm magnitude
(`original0`) is drawn near 1, so each filter's norm is near 1 whatever its direction."""
import hashlib
from typing import Dict, Iterable, Tuple

import numpy as np


def _rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def drawn(name: str) -> bool:
    """Whether `name` gets a seeded value (parameters are drawn whatever their name: the caller
    passes only parameter names and the buffers this accepts)."""
    return name.endswith(("running_mean", "running_var")) or name == "mel_stats"


def seeded_tensor(seed: int, name: str, shape: Tuple[int, ...]) -> np.ndarray:
    g = _rng(seed, name)
    shape = tuple(int(d) for d in shape)
    if name == "mel_stats":
        a = 2.0 + g.random(shape)
    elif name.endswith("running_var"):
        a = 1.0 + 0.2 * g.random(shape)
    elif name.endswith("running_mean"):
        a = 0.05 * g.standard_normal(shape)
    elif name.endswith("bias") or name.endswith("beta"):
        a = 0.02 * g.standard_normal(shape)
    elif len(shape) == 1 or name.endswith("original0"):
        # LayerNorm / GroupNorm / BatchNorm / RMSNorm scales, weight-norm magnitudes
        a = 1.0 + 0.05 * g.standard_normal(shape)
    elif name.startswith("gpt.gpt.h."):
        a = 0.02 * g.standard_normal(shape)
    else:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        a = g.standard_normal(shape) / np.sqrt(max(fan_in, 1))
    return a.astype(np.float32)


def seeded_state(seed: int, tensors: Iterable[Tuple[str, Tuple[int, ...]]]) -> Dict[str, np.ndarray]:
    """{name: array} for the given (name, shape) pairs."""
    return {name: seeded_tensor(seed, name, shape) for name, shape in tensors}


def fill_module(module, seed: int) -> None:
    """Overwrites a torch module's parameters, BatchNorm statistics and mel_stats in place."""
    import torch

    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.from_numpy(seeded_tensor(seed, name, tuple(p.shape))))
        for name, b in module.named_buffers():
            if drawn(name):
                b.copy_(torch.from_numpy(seeded_tensor(seed, name, tuple(b.shape))))
