"""Reference audio features for the fixture, computed with torchaudio exactly as Coqui's XTTS does
(facts §2b, §2e), so the TypeScript feature code is tested against the library Coqui uses rather than
against this project's own numbers. Needs torchaudio (present on the GPU machine, not in CI).

usage: python3 -m xtts.reference_features REF_WAV OUT_DIR
writes cond_logmel.f32 ([80, T] natural log of the clamped power mel, before division by mel_stats),
wav16k.f32 (the clip resampled to 16 kHz) and features.json (shapes, parameters, versions)."""
import json
import os
import sys

import torch
import torchaudio


def main(wav_path: str, out: str) -> None:
    import wave

    import numpy as np

    with wave.open(wav_path) as w:
        sr, n = w.getframerate(), w.getnframes()
        pcm = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    wav = torch.from_numpy(pcm)[None]
    assert sr == 22050
    # Coqui: wav_to_mel_cloning with the perceiver's arguments.
    mel_fn = torchaudio.transforms.MelSpectrogram(n_fft=2048, hop_length=256, win_length=1024, power=2, normalized=False,
                                                  sample_rate=22050, f_min=0, f_max=8000, n_mels=80, norm="slaney")
    logmel = torch.log(torch.clamp(mel_fn(wav), min=1e-5))[0]
    wav16 = torchaudio.functional.resample(wav, 22050, 16000)[0]
    os.makedirs(out, exist_ok=True)
    logmel.numpy().astype("<f4").tofile(os.path.join(out, "cond_logmel.f32"))
    wav16.numpy().astype("<f4").tofile(os.path.join(out, "wav16k.f32"))
    meta = {"source": os.path.basename(wav_path), "sample_rate": sr, "samples": n, "torchaudio": torchaudio.__version__,
            "cond_logmel": {"shape": list(logmel.shape), "dtype": "float32",
                            "params": "MelSpectrogram(n_fft=2048, hop=256, win=1024, power=2, f_max=8000, n_mels=80, "
                                      "norm=slaney, mel_scale=htk); log(clamp(x, 1e-5)); divide by mel_stats to feed the model"},
            "wav16k": {"shape": list(wav16.shape), "dtype": "float32",
                       "params": "torchaudio.functional.resample(22050 -> 16000), default arguments"}}
    with open(os.path.join(out, "features.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
