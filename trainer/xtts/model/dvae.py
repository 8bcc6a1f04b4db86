"""The DVAE (docs/xtts-v2-facts.md §6), as far as data preparation and checkpoint round-trips need it: encoder,
decoder and codebook with Coqui's `dvae.pth` key names. Only the encoder + nearest-code lookup is
used (mel -> audio codes); the decoder is kept so a checkpoint loads strictly."""
import torch
import torch.nn.functional as F
from torch import nn

from .config import XttsSizes


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(ch, ch, 3, padding=1), nn.ReLU(), nn.Conv1d(ch, ch, 3, padding=1), nn.ReLU(),
                                 nn.Conv1d(ch, ch, 1))

    def forward(self, x):
        return self.net(x) + x


class UpsampledConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Quantize(nn.Module):
    def __init__(self, dim: int, n: int):
        super().__init__()
        self.register_buffer("embed", torch.randn(dim, n))
        self.register_buffer("cluster_size", torch.zeros(n))
        self.register_buffer("embed_avg", self.embed.clone())

    def nearest(self, z):  # z [B, T, dim] -> codes [B, T]
        d = (z * z).sum(-1, keepdim=True) - 2 * z @ self.embed + (self.embed * self.embed).sum(0, keepdim=True)
        return d.argmin(dim=-1)


class DiscretizationLoss(nn.Module):
    """Only its running buffers live in the checkpoint."""

    def __init__(self, bins: int, store_past: int = 100):
        super().__init__()
        self.register_buffer("accumulator_index", torch.zeros(1, dtype=torch.long))
        self.register_buffer("accumulator_filled", torch.zeros(1, dtype=torch.long))
        self.register_buffer("accumulator", torch.zeros(store_past, bins))


class DiscreteVAE(nn.Module):
    def __init__(self, s: XttsSizes, channels: int = 80):
        super().__init__()
        h, cb, n = s.dvae_hidden_dim, s.dvae_codebook_dim, s.dvae_num_tokens
        inner = h * 2  # two stride-2 layers: 80 -> h -> 2h
        res = s.dvae_num_resnet_blocks
        self.discrete_loss = DiscretizationLoss(n)
        self.encoder = nn.Sequential(
            nn.Sequential(nn.Conv1d(channels, h, 3, stride=2, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv1d(h, inner, 3, stride=2, padding=1), nn.ReLU()),
            *[ResBlock(inner) for _ in range(res)],
            nn.Conv1d(inner, cb, 1))
        self.decoder = nn.Sequential(
            nn.Conv1d(cb, inner, 1),
            *[ResBlock(inner) for _ in range(res)],
            nn.Sequential(UpsampledConv(inner, inner), nn.ReLU()),
            nn.Sequential(UpsampledConv(inner, h), nn.ReLU()),
            nn.Conv1d(h, channels, 1))
        self.codebook = Quantize(cb, n)

    def codes(self, mel):
        """mel [B, 80, F] (the DVAE mel of §6, divided by mel_stats) -> codes [B, ceil(ceil(F/2)/2)]."""
        return self.codebook.nearest(self.encoder(mel).permute(0, 2, 1))

    def decode(self, codes):
        z = F.embedding(codes, self.codebook.embed.t()).permute(0, 2, 1)
        return self.decoder(z)
