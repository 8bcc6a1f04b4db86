"""Regenerates test/fixtures/tiny: a random-weight tiny model (seed 1234) exported and checked as a
model package, plus reference outputs for fixed inputs.

usage: python3 -m xtts.fixture [FIXTURE_DIR]
       python3 -m xtts.fixture --batch-only [FIXTURE_DIR]   (only the batched graphs, batch/)

Reference numbers that come from other libraries are recomputed when those libraries are installed
and otherwise kept from the committed files, after checking they belong to the same inputs:
token ids (Hugging Face `tokenizers`, from vocab.json) and audio features (torchaudio, from ref.wav).
Model outputs come from this project's PyTorch modules (the tiny model's sizes are smaller than any
Coqui can build); inference/xtts/fidelity.test.ts checks those modules, through the exporter and the
engine, against Coqui's own classes (test/fixtures/coqui-model, `npm run reference:model`)."""
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

from .cases import greedy_params, run_decode
from .checkpoint import read_model_folder
from .export import export_package
from .graphs import export_batch
from .quantize import quantize_graph
from .tiny import write_model_folder

SEED = 1234
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DIR = os.path.join(HERE, "..", "..", "test", "fixtures", "tiny")
MAX_CODES = 40


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _f32(folder: str, name: str, t: torch.Tensor, meta: dict) -> None:
    a = t.detach().cpu().float().numpy()
    a.astype("<f4").tofile(os.path.join(folder, name))
    meta[name] = {"shape": list(a.shape), "dtype": "float32"}


def _external_refs(model_dir: str, ref_dir: str, wav: str) -> None:
    vocab = os.path.join(model_dir, "vocab.json")
    try:
        from .token_ids import compute
        ids = compute(vocab)
        with open(os.path.join(ref_dir, "token_ids.json"), "w", encoding="utf-8") as f:
            json.dump(ids, f, ensure_ascii=False, indent=1)
    except ImportError:
        with open(os.path.join(ref_dir, "token_ids.json"), encoding="utf-8") as f:
            if json.load(f)["vocab_sha256"] != _sha(vocab):
                raise SystemExit("token_ids.json was made for another vocab.json; rerun where `tokenizers` is installed") from None
    try:
        from .reference_features import main as features
        features(wav, ref_dir)
    except ImportError:
        with open(os.path.join(ref_dir, "features.json")) as f:
            meta = json.load(f)
        if meta.get("wav_sha256", _sha(wav)) != _sha(wav):
            raise SystemExit("features.json was made for another ref.wav; rerun where torchaudio is installed") from None


@torch.no_grad()
def model_refs(model_dir: str, ref_dir: str, tokens: dict) -> dict:
    _cfg, s, m, _d, _tok = read_model_folder(model_dir)
    meta = {}
    with open(os.path.join(ref_dir, "features.json")) as f:
        feat = json.load(f)
    logmel = torch.from_numpy(np.fromfile(os.path.join(ref_dir, "cond_logmel.f32"), "<f4").reshape(feat["cond_logmel"]["shape"]))
    wav16 = torch.from_numpy(np.fromfile(os.path.join(ref_dir, "wav16k.f32"), "<f4"))[None]
    mel = (logmel / m.mel_stats[:, None])[None]  # one chunk: the whole 3.3 s clip is under gpt_cond_chunk_len... see json
    cond = m.gpt.style_embedding(mel)
    _f32(ref_dir, "cond_latent.f32", cond, meta)
    spk = m.hifigan_decoder.speaker_encoder(wav16)
    _f32(ref_dir, "speaker.f32", spk, meta)
    en = next(r for r in tokens["sentences"] if r["lang"] == "en")
    ids = torch.tensor([[s.gpt_start_text_token] + en["ids"] + [s.gpt_stop_text_token]])
    logits, latent, k, v = m.gpt.prefill(cond, ids)
    _f32(ref_dir, "logits0.f32", logits, meta)
    seen = torch.zeros(1, s.gpt_num_audio_tokens, dtype=torch.bool)
    out = run_decode(m, logits, latent, torch.tensor([1]), seen, k, v, greedy_params(s.gpt_stop_audio_token, MAX_CODES),
                     MAX_CODES)
    codes = out["codes"]
    latents = m.gpt.latents_for_codes(cond, ids, codes)
    _f32(ref_dir, "latents.f32", latents, meta)
    wav = m.hifigan_decoder(latents, spk.unsqueeze(-1))
    _f32(ref_dir, "wav24k.f32", wav, meta)
    return {
        "seed": SEED, "files": meta,
        "conditioning": "cond_latent = style_embedding(cond_logmel / mel_stats) over the whole clip as one chunk "
                        "(3.29 s, shorter than one 4 s chunk)",
        "speaker": "speaker = speaker_encoder(wav16k), L2-normalised [1, d_vector]",
        "text": {"lang": "en", "normalised": en["normalised"], "text_ids": ids[0].tolist()},
        "greedy": {"rule": "argmax of the logits (top_k 1, no repetition penalty), stop at audio_stop or "
                           f"{MAX_CODES} codes", "codes": codes[0].tolist()},
        "latents": "latents_for_codes(cond, text_ids, codes) [1, n, D]: the full-recompute latents",
        "wav24k": "hifigan(latents, speaker[..., None]) [1, 1, samples] at 24 kHz",
    }


def write_batch_graph(model_dir: str, fixture_dir: str) -> None:
    """The batched decode graphs of the same model, beside the package (the package stays as a plain
    export makes it): batch/gpt_batch_fp32.onnx (traced step) and batch/gpt_batch_fused_fp32.onnx
    (onnxruntime's fused operators), for inference/xtts/batch.test.ts."""
    import onnx
    _cfg, _s, m, _d, _tok = read_model_folder(model_dir, gpt_only=True)
    out = os.path.join(fixture_dir, "batch")
    os.makedirs(out, exist_ok=True)
    for fused in (False, True):
        for stem, g in export_batch(m, fp16=False, fused=fused).items():
            onnx.checker.check_model(g)
            onnx.save(g, os.path.join(out, f"{stem}.onnx"))


def batch_only(fixture_dir: str) -> None:
    work = tempfile.mkdtemp(prefix="xtts-tiny-")
    try:
        model_dir = os.path.join(work, "model")
        write_model_folder(model_dir, "tiny", SEED)
        write_batch_graph(model_dir, os.path.abspath(fixture_dir))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {os.path.join(fixture_dir, 'batch')}")


def main(fixture_dir: str) -> None:
    fixture_dir = os.path.abspath(fixture_dir)
    ref_dir = os.path.join(fixture_dir, "reference")
    os.makedirs(ref_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="xtts-tiny-")
    try:
        model_dir = os.path.join(work, "model")
        write_model_folder(model_dir, "tiny", SEED)
        wav = os.path.join(fixture_dir, "ref.wav")
        _external_refs(model_dir, ref_dir, wav)
        with open(os.path.join(ref_dir, "features.json")) as f:
            feat = json.load(f)
        feat["wav_sha256"] = _sha(wav)
        with open(os.path.join(ref_dir, "features.json"), "w") as f:
            json.dump(feat, f, indent=1)
        with open(os.path.join(ref_dir, "token_ids.json"), encoding="utf-8") as f:
            tokens = json.load(f)
        refs = model_refs(model_dir, ref_dir, tokens)
        with open(os.path.join(ref_dir, "reference.json"), "w") as f:
            json.dump(refs, f, indent=1)
        export_package(model_dir, os.path.join(fixture_dir, "package"), force=True)
        # The int8 CPU variant of the GPT graphs, kept beside the package rather than in it: on CPU
        # a package with int8 graphs defaults to them, and the parity tests compare fp32 with PyTorch.
        int8_dir = os.path.join(fixture_dir, "int8")
        os.makedirs(int8_dir, exist_ok=True)
        for g in ("gpt_prefill", "gpt_decode"):
            quantize_graph(os.path.join(fixture_dir, "package", f"{g}_fp32.onnx"),
                           os.path.join(int8_dir, f"{g}_int8.onnx"))
        write_batch_graph(model_dir, fixture_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {fixture_dir}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--batch-only"]
    (batch_only if "--batch-only" in sys.argv[1:] else main)(args[0] if args else DEFAULT_DIR)
