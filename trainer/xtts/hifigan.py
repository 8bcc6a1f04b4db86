"""XTTS-v2's HiFi-GAN decoder (facts §5): latents at 21.53 frames/s -> 24 kHz waveform, conditioned
on the speaker embedding at every upsampling stage. Keys match Coqui's
`hifigan_decoder.waveform_decoder.*`, with weight norm stored the way current torch saves it
(`parametrizations.weight.original0` = g, `original1` = v); checkpoint.py maps the older
`weight_g`/`weight_v` names onto these."""
import torch
from torch import nn
import torch.nn.functional as F

from .config import XttsSizes

LRELU_SLOPE = 0.1


class _WeightNormParams(nn.Module):
    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.original0 = nn.Parameter(_norm_except_dim0(weight))
        self.original1 = nn.Parameter(weight.clone())


def _norm_except_dim0(w: torch.Tensor) -> torch.Tensor:
    return w.reshape(w.shape[0], -1).norm(dim=1).reshape([w.shape[0]] + [1] * (w.dim() - 1))


class WNConv(nn.Module):
    """A Conv1d / ConvTranspose1d whose weight is g·v/‖v‖ (norm over all dims but 0). Written without
    torch.nn.utils.parametrizations so it runs on torch 1.13 too; the key layout is the same."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.transposed = isinstance(conv, nn.ConvTranspose1d)
        self.stride, self.padding, self.dilation = conv.stride[0], conv.padding[0], conv.dilation[0]
        self.parametrizations = nn.ModuleDict({"weight": _WeightNormParams(conv.weight.detach())})
        self.bias = conv.bias

    def weight(self) -> torch.Tensor:
        p = self.parametrizations["weight"]
        return p.original0 * p.original1 / _norm_except_dim0(p.original1)

    def forward(self, x):
        if self.transposed:
            return F.conv_transpose1d(x, self.weight(), self.bias, self.stride, self.padding)
        return F.conv1d(x, self.weight(), self.bias, self.stride, self.padding, self.dilation)


def _pad(k: int, d: int) -> int:
    return (k * d - d) // 2


class ResBlock1(nn.Module):
    def __init__(self, ch: int, k: int, dilations):
        super().__init__()
        self.convs1 = nn.ModuleList([WNConv(nn.Conv1d(ch, ch, k, 1, dilation=d, padding=_pad(k, d))) for d in dilations])
        self.convs2 = nn.ModuleList([WNConv(nn.Conv1d(ch, ch, k, 1, dilation=1, padding=_pad(k, 1))) for _ in dilations])

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            x = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE)) + x
        return x


class HifiganGenerator(nn.Module):
    def __init__(self, s: XttsSizes):
        super().__init__()
        ch0 = s.hifigan_upsample_initial_channel
        self.conv_pre = nn.Conv1d(s.decoder_input_dim, ch0, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        for i, (u, k) in enumerate(zip(s.hifigan_upsample_rates, s.hifigan_upsample_kernel_sizes)):
            self.ups.append(WNConv(nn.ConvTranspose1d(ch0 // 2 ** i, ch0 // 2 ** (i + 1), k, u, padding=(k - u) // 2)))
        self.num_kernels = len(s.hifigan_resblock_kernel_sizes)
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = ch0 // 2 ** (i + 1)
            for k, d in zip(s.hifigan_resblock_kernel_sizes, s.hifigan_resblock_dilation_sizes):
                self.resblocks.append(ResBlock1(ch, k, d))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3, bias=False)
        self.cond_layer = nn.Conv1d(s.d_vector_dim, ch0, 1)
        self.cond_in_each_up_layer = s.cond_d_vector_in_each_upsampling_layer
        if self.cond_in_each_up_layer:
            self.conds = nn.ModuleList([nn.Conv1d(s.d_vector_dim, ch0 // 2 ** (i + 1), 1) for i in range(len(self.ups))])

    def forward(self, x, g):
        o = self.conv_pre(x) + self.cond_layer(g)
        for i, up in enumerate(self.ups):
            o = up(F.leaky_relu(o, LRELU_SLOPE))
            if self.cond_in_each_up_layer:
                o = o + self.conds[i](g)
            z = self.resblocks[i * self.num_kernels](o)
            for j in range(1, self.num_kernels):
                z = z + self.resblocks[i * self.num_kernels + j](o)
            o = z / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(o)))  # default slope 0.01 here, as in Coqui


class HifiDecoder(nn.Module):
    """`hifigan_decoder`: the waveform generator and the speaker encoder side by side."""

    def __init__(self, s: XttsSizes):
        super().__init__()
        from .speaker_encoder import ResNetSpeakerEncoder
        self.sizes = s
        self.waveform_decoder = HifiganGenerator(s)
        self.speaker_encoder = ResNetSpeakerEncoder(s)

    def forward(self, latents, g):
        """latents [B, T, D], g [B, d_vector, 1] -> wav [B, 1, 256 * floor(4T * 24000 / 22050)]."""
        s = self.sizes
        z = F.interpolate(latents.transpose(1, 2), scale_factor=s.gpt_code_stride_len / s.output_hop_length,
                          mode="linear")
        if s.output_sample_rate != s.input_sample_rate:
            z = F.interpolate(z, scale_factor=s.output_sample_rate / s.input_sample_rate, mode="linear")
        return self.waveform_decoder(z, g)
