"""The batched decode step and sampler: B sequences of different lengths advanced together.

The KV cache is [layers, B, heads, P, head_dim], **left-padded**: sequence b holds its positions in
columns [start[b], P) and every new step appends one column at the end for all rows, so a sequence's
valid columns stay one contiguous block [start[b], P + steps done). Columns before start[b] are
padding; the attention gives them no weight (their scores are replaced by float32's lowest value
before the softmax, so their exp is exactly 0).

Per row, the arithmetic is the batch-1 step's (gpt.XttsGPT.decode_step, gpt2.Attention with no
causal mask) and the batch-1 sampler's (sampler.sample) with the sampling settings given per row;
see onnx_tools.decode_loop_batch for the Loop that runs them."""
import math

import torch
from torch import nn


def _attend(attn, x, past_k, past_v, keep):
    """gpt2.Attention.forward for one new position with a key mask; keep [B, 1, 1, S] bool."""
    b, t, _ = x.shape
    dh = attn.dim // attn.heads
    q, k, v = attn.qkv(x)
    k = torch.cat([past_k, k], dim=2)
    v = torch.cat([past_v, v], dim=2)
    w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
    w = w.masked_fill(~keep, torch.finfo(w.dtype).min)
    a = torch.softmax(w.float(), dim=-1).to(v.dtype)
    o = torch.matmul(a, v).transpose(1, 2).reshape(b, t, attn.dim)
    return attn.c_proj(o), k, v


class BatchStep(nn.Module):
    """token [B] int64 (the codes just chosen), pos [B] int64 (their audio positions), past_k/v
    [L, B, H, P, dh] left-padded, start [B] int64 (first valid column of each row) -> logits [B, V],
    latent [B, D], present k/v [L, B, H, P + 1, dh]."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, token, pos, past_k, past_v, start):
        g = self.gpt
        x = (g.mel_embedding(token) + g.mel_pos_embedding.emb(pos)).unsqueeze(1)
        s = past_k.shape[3] + 1
        keep = (torch.arange(s, device=token.device).unsqueeze(0) >= start.unsqueeze(1))[:, None, None, :]
        ks, vs = [], []
        for i, blk in enumerate(g.gpt.h):
            a, k, v = _attend(blk.attn, blk.ln_1(x), past_k[i], past_v[i], keep)
            x = x + a
            x = x + blk.mlp(blk.ln_2(x))
            ks.append(k)
            vs.append(v)
        h = g.gpt.ln_f(x)
        logits, latent = g.head(h[:, -1])
        return logits, latent, torch.stack(ks), torch.stack(vs)


def sample_batch(logits, seen, u, temperature, top_k, top_p, repetition_penalty):
    """sampler.sample with one row per sequence: logits [B, V], seen [B, V] bool, u [B], and the
    settings [B] each (top_k int64 in 1..V) -> token [B] int64."""
    v = logits.shape[-1]
    rp = repetition_penalty.unsqueeze(1)
    penalised = torch.where(logits > 0, logits / rp, logits * rp)
    z = torch.where(seen, penalised, logits) / temperature.unsqueeze(1)
    neg = torch.full_like(z, float("-inf"))
    desc, _ = torch.sort(z, dim=-1, descending=True)
    kth = desc.gather(-1, (top_k - 1).unsqueeze(1))
    z = torch.where(z < kth, neg, z)
    asc, order = torch.sort(z, dim=-1, descending=False)
    cum = torch.cumsum(torch.softmax(asc, dim=-1), dim=-1)
    drop_sorted = cum <= (1 - top_p.unsqueeze(1))
    keep_best = torch.arange(v, device=z.device).unsqueeze(0) == (v - 1)
    drop_sorted = drop_sorted & ~keep_best
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    z = torch.where(drop, neg, z)
    p = torch.softmax(z, dim=-1)
    cdf = torch.cumsum(p, dim=-1)
    idx = (cdf <= u.unsqueeze(1) * cdf[:, -1:]).sum(dim=-1)
    return idx.clamp(max=v - 1)


class BatchSampler(nn.Module):
    def forward(self, logits, seen, u, temperature, top_k, top_p, repetition_penalty):
        token = sample_batch(logits, seen, u, temperature, top_k, top_p, repetition_penalty)
        ids = torch.arange(logits.shape[-1], device=logits.device).unsqueeze(0)
        return token, seen | (ids == token.unsqueeze(1))
