"""GPT conditioning: the mel conditioning encoder and the perceiver resampler
(docs/xtts-v2-facts.md §2c, §2d). Key names follow Coqui's `gpt.conditioning_encoder.*` and
`gpt.conditioning_perceiver.*`."""
import torch
import torch.nn.functional as F
from torch import nn


def group_count(channels: int) -> int:
    """GroupNorm's group count as Coqui's `normalization()` picks it (TTS/tts/layers/tortoise/arch_utils.py):
    32 groups, 16 for 17-64 channels, 8 for 16 or fewer, halved until it divides the channel count."""
    groups = 32
    if channels <= 16:
        groups = 8
    elif channels <= 64:
        groups = 16
    while channels % groups != 0:
        groups //= 2
    if groups <= 2:
        raise ValueError(f"conditioning encoder width {channels}: Coqui's normalization() has no group count for it")
    return groups


class AttentionBlock(nn.Module):
    """Tortoise's attention block as XTTS uses it: the residual is added to the *normalised* input."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(group_count(channels), channels, eps=1e-5)
        self.qkv = nn.Conv1d(channels, channels * 3, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        b, c, t = x.shape
        xn = self.norm(x.float()).to(x.dtype)
        qkv = self.qkv(xn)
        # Heads are split before q/k/v (QKVAttentionLegacy): [B*H, 3*ch, T].
        ch = c // self.heads
        q, k, v = qkv.reshape(b * self.heads, 3 * ch, t).split(ch, dim=1)
        scale = 1.0 / (ch ** 0.25)
        w = torch.matmul((q * scale).transpose(1, 2), k * scale)  # [BH, T, T]
        w = torch.softmax(w.float(), dim=-1).to(x.dtype)
        a = torch.matmul(v, w.transpose(1, 2)).reshape(b, c, t)
        return xn + self.proj_out(a)


class ConditioningEncoder(nn.Module):
    def __init__(self, mel_channels: int, dim: int, heads: int, blocks: int):
        super().__init__()
        self.init = nn.Conv1d(mel_channels, dim, 1)
        self.attn = nn.Sequential(*[AttentionBlock(dim, heads) for _ in range(blocks)])

    def forward(self, mel):  # [B, 80, T] -> [B, D, T]
        return self.attn(self.init(mel))


class PerceiverAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents, context):
        b, n, _ = latents.shape
        ctx = torch.cat([latents, context], dim=1)  # queries are part of the context
        q = self.to_q(latents)
        k, v = self.to_kv(ctx).chunk(2, dim=-1)

        def split(t):
            return t.reshape(b, t.shape[1], self.heads, self.dim_head).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        w = torch.matmul(q, k.transpose(-1, -2)) * (self.dim_head ** -0.5)
        o = torch.matmul(torch.softmax(w, dim=-1), v)
        return self.to_out(o.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))


class GEGLU(nn.Module):
    def forward(self, x):
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: int = 4) -> nn.Sequential:
    inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, inner * 2), GEGLU(), nn.Linear(inner, dim))


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Written out instead of F.normalize so the ONNX graph has plain ops.
        n = torch.sqrt((x * x).sum(dim=-1, keepdim=True)).clamp(min=1e-12)
        return x / n * self.scale * self.gamma


class PerceiverResampler(nn.Module):
    def __init__(self, dim: int, depth: int, latents: int, heads: int, dim_head: int):
        super().__init__()
        self.latents = nn.Parameter(nn.init.normal_(torch.empty(latents, dim), std=0.02))
        self.layers = nn.ModuleList(
            [nn.ModuleList([PerceiverAttention(dim, heads, dim_head), feed_forward(dim)]) for _ in range(depth)])
        self.norm = RMSNorm(dim)

    def forward(self, x):  # [B, T, D] -> [B, latents, D]
        lat = self.latents.unsqueeze(0).expand(x.shape[0], -1, -1)
        for attn, ff in self.layers:
            lat = attn(lat, x) + lat
            lat = ff(lat) + lat
        return self.norm(lat)
