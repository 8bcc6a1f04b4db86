"""Hugging Face's sampling for XTTS (docs/xtts-v2-facts.md §4), as tensor code that exports to ONNX so it can run
inside the decode Loop: repetition penalty over every id seen so far, temperature, top-k (ties
kept), top-p (ascending sort, drop cumulative mass <= 1 - p, keep the best), then one draw.

The draw is an inverse-CDF lookup with a uniform number supplied by the caller, so a seeded RNG
on the TypeScript side fixes the result, and PyTorch and onnxruntime pick the same code from the
same numbers. Greedy decoding is top_k = 1."""
import torch
from torch import nn


def sample(logits, seen, u, temperature, top_k, top_p, repetition_penalty):
    """logits [1, V] float32, seen [1, V] bool, u scalar in [0, 1), temperature/top_p/penalty float
    scalars, top_k int64 scalar (1..V) -> token [1] int64."""
    v = logits.shape[-1]
    penalised = torch.where(logits > 0, logits / repetition_penalty, logits * repetition_penalty)
    scores = torch.where(seen, penalised, logits) / temperature
    neg = torch.full_like(scores, float("-inf"))
    desc, _ = torch.sort(scores, dim=-1, descending=True)
    kth = desc.gather(-1, (top_k - 1).reshape(1, 1))
    scores = torch.where(scores < kth, neg, scores)
    asc, order = torch.sort(scores, dim=-1, descending=False)
    cum = torch.cumsum(torch.softmax(asc, dim=-1), dim=-1)
    drop_sorted = cum <= (1 - top_p)
    keep_best = torch.arange(v, device=scores.device).unsqueeze(0) == (v - 1)
    drop_sorted = drop_sorted & ~keep_best
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    scores = torch.where(drop, neg, scores)
    p = torch.softmax(scores, dim=-1)
    cdf = torch.cumsum(p, dim=-1)
    # First index whose cumulative mass exceeds u; `<=` skips zero-probability ids at the front.
    idx = (cdf <= u * cdf[:, -1:]).sum(dim=-1)
    return idx.clamp(max=v - 1)


class Sampler(nn.Module):
    def forward(self, logits, seen, u, temperature, top_k, top_p, repetition_penalty):
        token = sample(logits, seen, u, temperature, top_k, top_p, repetition_penalty)
        ids = torch.arange(logits.shape[-1], device=logits.device).unsqueeze(0)
        return token, seen | (ids == token.unsqueeze(1))
