"""A GPT-2 decoder stack whose state-dict names match Hugging Face's GPT2Model
(`h.{i}.ln_1`, `h.{i}.attn.c_attn`, ..., `ln_f`), written here so the project needs no
`transformers`. XTTS removes GPT-2's token and position tables (positions are added outside),
so neither `wte` nor `wpe` exists. The KV cache is explicit and stacked, [layers, B, heads, S, 64],
because that is what crosses the ONNX boundary; `step_layers` takes it one tensor per layer, in a
read-only part and a carried part, as the decode Loop holds it (onnx_tools.decode_loop)."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn


class Conv1D(nn.Module):
    """GPT-2's linear layer: weight stored [in, out], y = x·W + b."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(nn.init.normal_(torch.empty(n_in, n_out), std=0.02))
        self.bias = nn.Parameter(nn.init.zeros_(torch.empty(n_out)))

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.dim = heads, dim
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)

    def qkv(self, x) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The query, key and value of x [B, T, D], each [B, H, T, dh]: c_attn's projection split into
        heads (also the decode steps restated in export/batch.py and bench/kv_precision.py)."""
        b, t, _ = x.shape
        dh = self.dim // self.heads
        q, k, v = self.c_attn(x).split(self.dim, dim=2)
        return (q.view(b, t, self.heads, dh).transpose(1, 2), k.view(b, t, self.heads, dh).transpose(1, 2),
                v.view(b, t, self.heads, dh).transpose(1, 2))

    def forward(self, x, past_k: Optional[torch.Tensor], past_v: Optional[torch.Tensor], causal: bool,
                frozen_k: Optional[torch.Tensor] = None, frozen_v: Optional[torch.Tensor] = None):
        """frozen_k/v: positions before past_k/v that this call only reads ([B, H, F, dh]): the
        attention runs over [frozen, past, new] without concatenating the frozen part, and the
        returned k/v are [past, new] only."""
        b, t, _ = x.shape
        dh = self.dim // self.heads
        q, k, v = self.qkv(x)
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        if frozen_k is not None:
            # The same scores as over the concatenated cache; the weighted sum in two parts.
            w = torch.cat([torch.matmul(q, frozen_k.transpose(-1, -2)), torch.matmul(q, k.transpose(-1, -2))],
                          dim=-1) / math.sqrt(dh)
            a = torch.softmax(w.float(), dim=-1).to(v.dtype)
            f = frozen_k.shape[2]
            o = torch.matmul(a[..., :f], frozen_v) + torch.matmul(a[..., f:], v)
            return self.c_proj(o.transpose(1, 2).reshape(b, t, self.dim)), k, v
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        if causal:
            # Prefill starts from an empty cache, so the mask is the square lower triangle.
            # Built from index comparisons rather than tril() so every runtime has the kernels.
            s = k.shape[2]
            rows = torch.arange(t, device=x.device).unsqueeze(1) + (s - t)
            keep = torch.arange(s, device=x.device).unsqueeze(0) <= rows
            w = w.masked_fill(~keep, torch.finfo(w.dtype).min)
        # HF upcasts the softmax for fp16; do the same so fp16 graphs stay close to fp32.
        a = torch.softmax(w.float(), dim=-1).to(v.dtype)
        o = torch.matmul(a, v).transpose(1, 2).reshape(b, t, self.dim)
        return self.c_proj(o), k, v


class MLP(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.c_fc = Conv1D(dim, 4 * dim)
        self.c_proj = Conv1D(4 * dim, dim)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # GPT-2's gelu_new


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLP(dim)

    def forward(self, x, past_k, past_v, causal: bool, frozen_k=None, frozen_v=None):
        a, k, v = self.attn(self.ln_1(x), past_k, past_v, causal, frozen_k, frozen_v)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, k, v


class GPT2Stack(nn.Module):
    def __init__(self, layers: int, dim: int, heads: int):
        super().__init__()
        self.h = nn.ModuleList([Block(dim, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x, past_k: Optional[torch.Tensor] = None, past_v: Optional[torch.Tensor] = None,
                causal: Optional[bool] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: [B, T, D] input embeddings. past_k/v: [L, B, H, S, dh] or None (then causal prefill).
        causal: each new position attends to the past and to the new ones up to itself; default: only
        without a past (a decode step of one position needs no mask). Returns ln_f(h), present_k,
        present_v ([L, B, H, S+T, dh])."""
        if causal is None:
            causal = past_k is None
        ks, vs = [], []
        for i, block in enumerate(self.h):
            pk = None if past_k is None else past_k[i]
            pv = None if past_v is None else past_v[i]
            x, k, v = block(x, pk, pv, causal)
            ks.append(k)
            vs.append(v)
        return self.ln_f(x), torch.stack(ks), torch.stack(vs)

    def step_layers(self, x, frozen_k: Sequence[torch.Tensor], frozen_v: Sequence[torch.Tensor],
                    past_k: Sequence[torch.Tensor], past_v: Sequence[torch.Tensor]
                    ) -> Tuple[torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
        """forward with a cache one tensor per layer, in two parts: frozen_k/v [B, H, F, dh], read
        only, then past_k/v [B, H, S, dh]. Returns ln_f(h) and the present k/v per layer, past and new
        positions only ([B, H, S+T, dh]): a step copies the short part of the cache, never the frozen one."""
        ks, vs = [], []
        for block, fk, fv, pk, pv in zip(self.h, frozen_k, frozen_v, past_k, past_v):
            x, k, v = block(x, pk, pv, False, fk, fv)
            ks.append(k)
            vs.append(v)
        return self.ln_f(x), ks, vs
