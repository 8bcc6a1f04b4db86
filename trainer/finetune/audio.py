"""Audio loading and the two mel front ends training needs, in plain torch (the environment has no
torchaudio on purpose). Both follow torchaudio.transforms.MelSpectrogram as Coqui configures it:
periodic Hann window of `win` samples centred in `n_fft`, center=True with reflect padding, power 2,
slaney-normalised HTK-scale filterbank, then log(clamp(x, 1e-5)) / mel_stats.

- conditioning mel (docs/xtts-v2-facts.md §2b): n_fft 2048, hop 256, win 1024 -> conditioning encoder + perceiver
- DVAE mel (facts §6): n_fft 1024, hop 256, win 1024 -> DVAE codes"""
import os
import wave
from typing import Dict, Tuple

import numpy as np
import torch

SAMPLE_RATE = 22050


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def slaney_htk_filterbank(n_fft: int, n_mels: int = 80, sr: int = SAMPLE_RATE, f_max: float = 8000.0) -> torch.Tensor:
    """torchaudio.functional.melscale_fbanks(n_fft//2+1, 0, f_max, n_mels, sr, norm='slaney', mel_scale='htk'),
    computed in float64 and returned as float32 [n_freqs, n_mels]."""
    all_freqs = np.linspace(0, sr // 2, n_fft // 2 + 1)
    f_pts = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(f_max), n_mels + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    fb = np.maximum(0.0, np.minimum(-slopes[:, :-2] / f_diff[:-1], slopes[:, 2:] / f_diff[1:]))
    fb = fb * (2.0 / (f_pts[2:n_mels + 2] - f_pts[:n_mels]))[None, :]
    return torch.from_numpy(fb.astype(np.float32))


class LogMel(torch.nn.Module):
    """wav [B, N] float32 -> log-mel [B, 80, 1 + N // hop], divided by mel_stats."""

    def __init__(self, n_fft: int, hop: int, win: int, mel_stats: torch.Tensor):
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        self.register_buffer("window", torch.hann_window(win, periodic=True))
        self.register_buffer("fb", slaney_htk_filterbank(n_fft))
        self.register_buffer("mel_stats", mel_stats.detach().float().clone())

    @torch.no_grad()
    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wav.float(), self.n_fft, hop_length=self.hop, win_length=self.win, window=self.window,
                          center=True, pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        power = spec.real.pow(2) + spec.imag.pow(2)  # [B, F, T]
        mel = torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)
        return torch.log(torch.clamp(mel, min=1e-5)) / self.mel_stats.view(1, -1, 1)


def conditioning_mel(mel_stats: torch.Tensor) -> LogMel:
    return LogMel(2048, 256, 1024, mel_stats)


def dvae_mel(mel_stats: torch.Tensor) -> LogMel:
    return LogMel(1024, 256, 1024, mel_stats)


def _read_pcm_wav(path: str) -> Tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        sr, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    if width == 2:
        pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        pcm = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 1:
        pcm = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise ValueError(f"{width * 8}-bit PCM")
    return pcm.reshape(-1, ch).mean(axis=1), sr


def _read_with_av(path: str) -> np.ndarray:
    """Any other container/codec, decoded and resampled to 22.05 kHz mono float by FFmpeg (PyAV).
    The dataset builder writes 22.05 kHz PCM WAV, so this path is the exception."""
    import av

    out = []
    with av.open(path) as f:
        res = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for frame in f.decode(audio=0):
            for r in res.resample(frame):
                out.append(r.to_ndarray().reshape(-1))
        for r in res.resample(None):
            out.append(r.to_ndarray().reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def load_audio(path: str) -> torch.Tensor:
    """-> float32 [N] at 22.05 kHz in [-1, 1] (clipped, as Coqui's load_audio does)."""
    try:
        pcm, sr = _read_pcm_wav(path)
        if sr != SAMPLE_RATE:
            pcm = _read_with_av(path)
    except (wave.Error, ValueError, EOFError):
        pcm = _read_with_av(path)
    return torch.from_numpy(np.ascontiguousarray(pcm, dtype=np.float32)).clamp(-1.0, 1.0)


_LEN_CACHE: Dict[str, int] = {}


def audio_length(path: str) -> int:
    """Samples at 22.05 kHz, from the WAV header when possible (fast for thousands of clips)."""
    if path not in _LEN_CACHE:
        n = None
        try:
            with wave.open(path, "rb") as w:
                if w.getframerate() == SAMPLE_RATE:
                    n = w.getnframes()
        except (wave.Error, EOFError):
            pass
        if n is None:
            n = int(load_audio(path).shape[0])
        _LEN_CACHE[path] = n
    return _LEN_CACHE[path]


def exists(path: str) -> bool:
    return os.path.isfile(path)
