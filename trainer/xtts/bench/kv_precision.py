"""Whether a half-precision decode attention keeps the fp32 greedy codes: the question that decides if the
fixed-shape step may hold its KV cache in fp16 (half the memory of the serving state: 64 slots of 1,039
positions are 15.8 GB in fp32). The rule is that of the rest of the decode path: fp16 only where the greedy
codes of the sentences stay those of fp32, at repetition penalty 1, 5 and 10.

For each sentence and penalty this decodes N greedy codes (top_k 1, the release's sampler) three ways over
the same prompt (random conditioning mels, seeded, as bench_torch.py makes them):
  - fp32: the model's own attention arithmetic;
  - kv16: keys and values stored in fp16 (the prefill's, then every step's new column, rounded to the
    nearest fp16 as a cast into an fp16 cache does), the arithmetic fp32;
  - attn16: as an fp16 DecoderMaskedMultiHeadAttention computes: the query, keys, values and the attention's
    output in fp16, the products, softmax and sums accumulated in fp32; the rest of the step fp32;
and reports where each parts from fp32 (the first differing code) or that it does not over N codes.

This is PyTorch on the model's modules (the decode attention of gpt2.Attention, the same formula with the
roundings inserted), not the engine's graphs: it says whether the roundings themselves move the greedy path,
which the engine's fp16 step must then show on its own (bench native.ts). Sentences: bench:gpu's
(inference/bench/sentences.ts), read from that file.

    python -m xtts.bench.kv_precision MODEL_DIR [--codes 100] [--sentences 4] [--penalties 1,5,10]
        [--modes kv16,attn16] [--json OUT]
"""
import argparse
import contextlib
import json
import math
import os
import re
import time

import torch

from ..model import gpt2
from ..model.checkpoint import read_model_folder
from ..model.sampler import Sampler
from .bench_torch import CHUNK_S, CLIP_S, text_ids

SENTENCES_TS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "inference", "bench", "sentences.ts")


def bench_sentences(path: str = SENTENCES_TS) -> list:
    """bench:gpu's sentences: the single-quoted strings of the SENTENCES array in sentences.ts."""
    with open(path, encoding="utf-8") as f:
        body = f.read().split("SENTENCES", 1)[1]
    return [m.replace("\\'", "'") for m in re.findall(r"'((?:[^'\\]|\\.)*)'", body)]


def _half(t: torch.Tensor) -> torch.Tensor:
    return t.half().float()


@contextlib.contextmanager
def rounded_attention(mode: str):
    """Within: every decode step's attention (one new position over a cache) with `mode`'s roundings
    ('fp32' keeps the arithmetic as it is). The prefill (no cache) is untouched: its keys and values are
    rounded where they enter the cache (decode's `load`)."""
    original = gpt2.Attention.forward

    # gpt2.Attention.forward's decode arithmetic restated with the roundings between its operations: the
    # module has no hook there, and a probe must not change the model the trainer and the exports use.
    def forward(self, x, past_k, past_v, causal, frozen_k=None, frozen_v=None):
        if past_k is None or frozen_k is not None or x.shape[1] != 1:
            return original(self, x, past_k, past_v, causal, frozen_k, frozen_v)
        b, t, _ = x.shape
        dh = self.dim // self.heads
        q, k, v = self.qkv(x)
        if mode != "fp32":
            k, v = _half(k), _half(v)
        if mode == "attn16":
            q = _half(q)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        a = torch.softmax(w.float(), dim=-1).to(v.dtype)
        o = torch.matmul(a, v)
        if mode == "attn16":
            o = _half(o)
        return self.c_proj(o.transpose(1, 2).reshape(b, t, self.dim)), k, v

    gpt2.Attention.forward = forward
    try:
        yield
    finally:
        gpt2.Attention.forward = original


def greedy_codes(gpt, sizes, logits, k, v, n: int, penalty: float, mode: str):
    """n greedy codes from a prefill's logits and cache, the attention rounded as `mode` says."""
    if mode != "fp32":
        k, v = _half(k), _half(v)
    sampler = Sampler()
    settings = (torch.tensor(1.0), torch.tensor(1), torch.tensor(1.0), torch.tensor(float(penalty)))
    seen = torch.zeros(1, sizes.gpt_num_audio_tokens, dtype=torch.bool)
    seen[0, 1] = seen[0, sizes.gpt_start_audio_token] = True
    pos = torch.tensor([1])
    codes, latents = [], []
    with rounded_attention(mode):
        for _ in range(n):
            token, seen = sampler(logits.float(), seen, torch.tensor(0.5), *settings)
            codes.append(int(token[0]))
            logits, latent, k, v = gpt.decode_step(token, pos, k, v)
            latents.append(latent)
            pos = pos + 1
    return codes, torch.cat(latents)


@torch.inference_mode()
def run(model_dir: str, codes: int, sentences: int, penalties, modes) -> dict:
    _cfg, s, model, _d, tok = read_model_folder(model_dir)
    gpt = model.gpt.eval()
    g = torch.Generator().manual_seed(1)
    frames = [int(CHUNK_S * 22050) // 256 + 1, int((CLIP_S - CHUNK_S) * 22050) // 256 + 1]
    mels = [torch.randn(1, 80, f, generator=g) * 0.5 - 1.0 for f in frames]
    cond = torch.stack([gpt.style_embedding(m) for m in mels]).mean(0)
    n = min(codes, s.max_gen_audio_tokens)
    rows = []
    t0 = time.perf_counter()
    for text in bench_sentences()[:sentences]:
        ids = torch.tensor([text_ids(tok, s.gpt_start_text_token, s.gpt_stop_text_token, text)])
        logits, _latent, k, v = gpt.prefill(cond, ids)
        for p in penalties:
            ref, ref_lat = greedy_codes(gpt, s, logits, k, v, n, p, "fp32")
            for mode in modes:
                got, lat = greedy_codes(gpt, s, logits, k, v, n, p, mode)
                first = next((i for i in range(n) if got[i] != ref[i]), None)
                same = first if first is not None else n
                err = float((lat[:same] - ref_lat[:same]).abs().max()) if same > 0 else 0.0
                rows.append({"sentence": text, "penalty": p, "mode": mode, "codes": n, "partsAt": first,
                             "latentMaxAbsErr": err})
                print(f"{mode:6} rp {p:g} {text[:40]!r}: "
                      f"{'equal' if first is None else f'parts at code {first}'} over {n} codes, "
                      f"latents {err:.2e} apart before that", flush=True)
    out = {"model": model_dir, "codes": n, "sentences": sentences, "penalties": list(penalties),
           "seconds": round(time.perf_counter() - t0, 1), "rows": rows}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        out[f"equal_{mode}"] = f"{sum(r['partsAt'] is None for r in mine)}/{len(mine)}"
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir")
    p.add_argument("--codes", type=int, default=100)
    p.add_argument("--sentences", type=int, default=4)
    p.add_argument("--penalties", default="1,5,10")
    p.add_argument("--modes", default="kv16,attn16")
    p.add_argument("--json")
    a = p.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in ("kv16", "attn16"):
            p.error(f"--modes: {m} is not kv16 or attn16")
    out = run(a.model_dir, a.codes, a.sentences, [float(x) for x in a.penalties.split(",")], modes)
    print(json.dumps({k: v for k, v in out.items() if k != "rows"}))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
