"""Checks finetune/audio.py's mel front ends against torchaudio, the library Coqui computes them
with (not run in CI: the project's environment has no torchaudio; GPU hosts usually do).

    python -m finetune.mel_check   -> one JSON line with the largest differences"""
import json

import torch
import torchaudio

from .audio import conditioning_mel, dvae_mel


def main() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(3 * 22050) / 22050
    wav = (0.4 * torch.sin(2 * torch.pi * 220 * t) + 0.1 * torch.randn(t.shape[0], generator=g)).unsqueeze(0)
    stats = 2.0 + torch.rand(80, generator=g)
    out = {"torchaudio": torchaudio.__version__}
    for name, mine, n_fft in (("conditioning", conditioning_mel(stats), 2048), ("dvae", dvae_mel(stats), 1024)):
        ref_fn = torchaudio.transforms.MelSpectrogram(sample_rate=22050, n_fft=n_fft, hop_length=256, win_length=1024,
                                                      power=2, normalized=False, f_min=0, f_max=8000, n_mels=80,
                                                      norm="slaney")
        ref = torch.log(torch.clamp(ref_fn(wav), min=1e-5)) / stats.view(1, -1, 1)
        got = mine(wav)
        out[name] = {"shape": list(got.shape), "ref_shape": list(ref.shape),
                     "max_abs_err": float((got - ref).abs().max()), "ref_max_abs": float(ref.abs().max()),
                     "fb_max_abs_err": float((mine.fb - ref_fn.mel_scale.fb).abs().max())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
