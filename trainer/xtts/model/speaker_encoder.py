"""The speaker encoder (docs/xtts-v2-facts.md §2e): ResNet "H/ASP" over a 64-bin log-mel of 16 kHz audio,
L2-normalised. Keys match Coqui's `hifigan_decoder.speaker_encoder.*`, including the front end's
buffers (`torch_spec.0.filter`, `torch_spec.1.spectrogram.window`, `torch_spec.1.mel_scale.fb`),
so a real checkpoint brings its own window and filterbank. The STFT is written as a convolution with
a windowed DFT basis so that it exports to ONNX at any opset and needs no torchaudio."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import XttsSizes

N_FFT, WIN, HOP, SR, N_MELS = 512, 400, 160, 16000, 64


def htk_mel_filterbank(n_freqs: int, f_max: float, n_mels: int, sr: int) -> np.ndarray:
    """torchaudio.functional.melscale_fbanks(n_freqs, 0, f_max, n_mels, sr, norm=None, mel_scale='htk')."""

    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel2hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    all_freqs = np.linspace(0, sr // 2, n_freqs)
    f_pts = mel2hz(np.linspace(hz2mel(0.0), hz2mel(f_max), n_mels + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)  # [n_freqs, n_mels]


class PreEmphasis(nn.Module):
    def __init__(self, coefficient: float = 0.97):
        super().__init__()
        self.register_buffer("filter", torch.tensor([[[-coefficient, 1.0]]]))

    def forward(self, x):  # [B, N] -> [B, N]
        return F.conv1d(F.pad(x.unsqueeze(1), (1, 0), "reflect"), self.filter).squeeze(1)


class _Spectrogram(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hamming_window(WIN))


class _MelScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("fb", torch.from_numpy(htk_mel_filterbank(N_FFT // 2 + 1, SR / 2, N_MELS, SR)))


class MelSpectrogram(nn.Module):
    """Power mel spectrogram with torchaudio's MelSpectrogram semantics (center, reflect pad, window
    zero-padded to the middle of n_fft)."""

    def __init__(self):
        super().__init__()
        self.spectrogram = _Spectrogram()
        self.mel_scale = _MelScale()

    def forward(self, x):  # [B, N] -> [B, 64, 1 + N // 160]
        # The windowed DFT basis goes through numpy so a trace records it as one constant kernel
        # (the ONNX exporter needs a convolution's kernel shape to be known).
        win = self.spectrogram.window.detach().cpu().double().numpy()
        left = (N_FFT - WIN) // 2
        win = np.pad(win, (left, N_FFT - WIN - left))
        ang = 2 * np.pi * np.arange(N_FFT // 2 + 1)[:, None] * np.arange(N_FFT)[None, :] / N_FFT
        basis = np.concatenate([np.cos(ang) * win, -np.sin(ang) * win])[:, None, :]
        basis = torch.from_numpy(basis.astype(np.float32)).to(x.device)
        xp = F.pad(x.unsqueeze(1), (N_FFT // 2, N_FFT // 2), "reflect")
        spec = F.conv1d(xp, basis, stride=HOP)
        re, im = spec.chunk(2, dim=1)
        power = re * re + im * im  # [B, F, frames]
        return torch.matmul(power.transpose(1, 2), self.mel_scale.fb).transpose(1, 2)


class SELayer(nn.Module):
    def __init__(self, ch: int, reduction: int = 8):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(ch, ch // reduction), nn.ReLU(), nn.Linear(ch // reduction, ch), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(x.mean(dim=(2, 3))).unsqueeze(-1).unsqueeze(-1)


class SEBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SELayer(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.se(self.bn2(self.conv2(self.bn1(F.relu(self.conv1(x))))))
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class ResNetSpeakerEncoder(nn.Module):
    def __init__(self, s: XttsSizes):
        super().__init__()
        nf, layers = s.speaker_encoder_num_filters, s.speaker_encoder_layers
        self.torch_spec = nn.Sequential(PreEmphasis(0.97), MelSpectrogram())
        self.conv1 = nn.Conv2d(1, nf[0], 3, padding=1)
        self.bn1 = nn.BatchNorm2d(nf[0])
        cin = nf[0]
        for i, (n, c) in enumerate(zip(layers, nf)):
            stride = 1 if i == 0 else 2
            blocks = [SEBasicBlock(cin, c, stride)] + [SEBasicBlock(c, c, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            cin = c
        self.instancenorm = nn.InstanceNorm1d(N_MELS)
        flat = nf[3] * (N_MELS // 8)
        self.attention = nn.Sequential(nn.Conv1d(flat, 128, 1), nn.ReLU(), nn.BatchNorm1d(128), nn.Conv1d(128, flat, 1),
                                       nn.Softmax(dim=2))
        self.fc = nn.Linear(flat * 2, s.d_vector_dim)

    def forward(self, wav16k):
        """wav16k [B, N] in [-1, 1] -> L2-normalised embedding [B, d_vector]."""
        x = torch.log(self.torch_spec(wav16k) + 1e-6)
        x = self.instancenorm(x).unsqueeze(1)
        x = self.bn1(F.relu(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        w = self.attention(x)
        mu = (x * w).sum(dim=2)
        sg = torch.sqrt(((x * x * w).sum(dim=2) - mu * mu).clamp(min=1e-5))
        e = self.fc(torch.cat([mu, sg], dim=1))
        return e / e.norm(dim=1, keepdim=True).clamp(min=1e-12)
