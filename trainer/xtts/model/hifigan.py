"""XTTS-v2's HiFi-GAN decoder (docs/xtts-v2-facts.md §5): latents at 21.53 frames/s -> 24 kHz waveform, conditioned
on the speaker embedding at every upsampling stage. Keys match Coqui's
`hifigan_decoder.waveform_decoder.*`, with weight norm stored the way current torch saves it
(`parametrizations.weight.original0` = g, `original1` = v); checkpoint.py maps the older
`weight_g`/`weight_v` names onto these."""
import torch
import torch.nn.functional as F
from torch import nn

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


def _masked(x, mask):
    return x if mask is None else x * mask


def _mask(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[N, 1, L] of x's dtype: 1 at positions below `valid`, 0 from there on; valid is an int64 scalar
    tensor (N = 1, every row alike) or one length per row, [B] (N = B)."""
    return (torch.arange(x.shape[-1], device=x.device)[None, :] < valid.reshape(-1, 1)).to(x.dtype)[:, None, :]


def _conv_valid(conv, n: torch.Tensor) -> torch.Tensor:
    """The length a conv (WNConv or nn.Conv1d, stride 1) or a transposed conv gives an input of length n:
    the valid length after it when everything past n is zero."""
    if isinstance(conv, WNConv):
        k = conv.parametrizations["weight"].original1.shape[-1]
        s, p, d, transposed = conv.stride, conv.padding, conv.dilation, conv.transposed
    else:
        s, p, d, k, transposed = conv.stride[0], conv.padding[0], conv.dilation[0], conv.kernel_size[0], False
    if transposed:
        return (n - 1) * s - 2 * p + d * (k - 1) + 1
    assert s == 1, "strided convs are not used in this generator"
    return n + 2 * p - d * (k - 1)


class ResBlock1(nn.Module):
    def __init__(self, ch: int, k: int, dilations):
        super().__init__()
        self.convs1 = nn.ModuleList([WNConv(nn.Conv1d(ch, ch, k, 1, dilation=d, padding=_pad(k, d))) for d in dilations])
        self.convs2 = nn.ModuleList([WNConv(nn.Conv1d(ch, ch, k, 1, dilation=1, padding=_pad(k, 1))) for _ in dilations])

    def forward(self, x, mask=None):
        """mask: see HifiganGenerator.forward (every conv here keeps the length, so one mask serves all)."""
        for c1, c2 in zip(self.convs1, self.convs2):
            x = c2(_masked(F.leaky_relu(c1(_masked(F.leaky_relu(x, LRELU_SLOPE), mask)), LRELU_SLOPE), mask)) + x
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

    def forward(self, x, g, valid=None):
        """x [B, D, L], g [B, d_vector, 1]. valid (int64 scalar tensor, [B] of them, or None): how many of x's
        frames are real (in each row). With it, every convolution's input is zeroed past the real length at its own resolution, so
        the first outputs equal those of x[..., :valid] run alone, whatever follows in x (a padded input
        gives the unpadded run's numbers). Without it, no masking at all: the reference computation."""
        m = None if valid is None else _mask(x, valid)
        o = self.conv_pre(_masked(x, m)) + self.cond_layer(g)
        if valid is not None:
            valid = _conv_valid(self.conv_pre, valid)
            m = _mask(o, valid)
        for i, up in enumerate(self.ups):
            o = up(_masked(F.leaky_relu(o, LRELU_SLOPE), m))
            if self.cond_in_each_up_layer:
                o = o + self.conds[i](g)
            if valid is not None:
                valid = _conv_valid(up, valid)
                m = _mask(o, valid)
            z = self.resblocks[i * self.num_kernels](o, m)
            for j in range(1, self.num_kernels):
                z = z + self.resblocks[i * self.num_kernels + j](o, m)
            o = z / self.num_kernels
        return torch.tanh(self.conv_post(_masked(F.leaky_relu(o), m)))  # default slope 0.01 here, as in Coqui


class HifiDecoder(nn.Module):
    """`hifigan_decoder`: the waveform generator and the speaker encoder side by side."""

    def __init__(self, s: XttsSizes):
        super().__init__()
        from .speaker_encoder import ResNetSpeakerEncoder
        self.sizes = s
        self.waveform_decoder = HifiganGenerator(s)
        self.speaker_encoder = ResNetSpeakerEncoder(s)

    def forward(self, latents, g, frames=None):
        """latents [B, T, D], g [B, d_vector, 1] -> wav [B, 1, 256 * floor(4T * 24000 / 22050)].

        frames (int64 scalar tensor, 1 <= frames <= T, or None): the number of real latents, the rest being
        padding; or [B] of them, one per row (rows of different lengths padded to one T, each row's output
        as if it ran alone). The output's first 256 * floor(4 * frames * 24000 / 22050) samples then equal
        those of latents[:, :frames] decoded alone, whatever the padding holds: the interpolation reads
        frame frames-1 wherever it would read past it (an unpadded input's edge clamp), a resize that
        would leave the real length unchanged passes its input through (PyTorch and onnxruntime copy
        when the output length equals the input's: 1 and 2 frames at 24000 / 22050), and the generator
        zeroes every convolution's input past the real length (an unpadded input's zero padding).
        Without frames, the reference computation, unchanged."""
        s = self.sizes
        scales = [s.gpt_code_stride_len / s.output_hop_length]
        if s.output_sample_rate != s.input_sample_rate:
            scales.append(s.output_sample_rate / s.input_sample_rate)
        valid = None
        if frames is not None:
            t = torch.arange(latents.shape[1], device=latents.device)[None, :]
            f = frames.reshape(-1, 1)
            idx = torch.where(t < f, t, f - 1)  # [1 or B, T]
            latents = latents.gather(1, idx[..., None].expand(latents.shape[0], -1, latents.shape[2]))
            valid = frames
        z = latents.transpose(1, 2)
        for scale in scales:
            y = F.interpolate(z, scale_factor=scale, mode="linear")
            if valid is not None:
                n = resized_length(valid, scale)
                if 1 < scale < 2:  # only then can floor(n * scale) == n (n >= 1)
                    y = torch.where((n == valid).reshape(-1, 1, 1), F.pad(z, (0, y.shape[-1] - z.shape[-1])), y)
                valid = n
            z = y
        return self.waveform_decoder(z, g, valid)


def resized_length(n: torch.Tensor, scale: float) -> torch.Tensor:
    """The length onnxruntime's Resize gives n frames at this scale factor: floor(float32(n) * float32(scale)),
    its float arithmetic (the exported graph holds the scale as float32). PyTorch computes it in double;
    at 24000 / 22050 the two agree for every n below 77729 (19432 latents, 15 minutes in one decode)."""
    return torch.floor(n.to(torch.float32) * torch.tensor(scale, dtype=torch.float32)).to(torch.int64)
