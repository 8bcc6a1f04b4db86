"""Sample inputs and PyTorch reference outputs for every exported graph, written as raw
little-endian tensors plus a cases.json that inference/runtime/check-graphs.ts runs."""
import json
import os
from typing import Dict, List, Tuple

import numpy as np
import torch

from ..model.model import Xtts
from ..model.sampler import Sampler

# Allowed max abs error, per graph family and dtype, scaled by max(1, max |expected|) of each output.
TOLERANCE = {"fp32": 2e-3, "fp16": 6e-2}


class CaseWriter:
    def __init__(self, folder: str, graph_dir_rel: str):
        self.folder, self.graph_dir_rel, self.cases, self.n = folder, graph_dir_rel, [], 0
        os.makedirs(folder, exist_ok=True)

    def _file(self, t: torch.Tensor, name: str, dtype: str) -> dict:
        self.n += 1
        fn = f"t{self.n:03d}.bin"
        a = t.detach().cpu()
        np_dtype = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "bool": np.bool_}[dtype]
        a.numpy().astype(np_dtype).tofile(os.path.join(self.folder, fn))
        return {"name": name, "dtype": dtype, "shape": list(a.shape), "file": fn}

    def add(self, name: str, graph: str, feeds: Dict[str, torch.Tensor], expected: Dict[str, torch.Tensor],
            tol: float, repeat: int = 3, f16_inputs=()):
        def dt(k, t):
            if t.dtype == torch.bool:
                return "bool"
            if t.dtype == torch.long:
                return "int64"
            return "float16" if k in f16_inputs else "float32"
        exp = []
        for k, t in expected.items():
            e = self._file(t, k, dt(k, t))
            e["atol"] = 0.0 if t.dtype in (torch.long, torch.bool) else tol * max(1.0, float(t.abs().max()))
            exp.append(e)
        self.cases.append({"name": name, "graph": os.path.join(self.graph_dir_rel, graph), "repeat": repeat,
                           "feeds": [self._file(t, k, dt(k, t)) for k, t in feeds.items()], "expected": exp})

    def save(self) -> str:
        path = os.path.join(self.folder, "cases.json")
        with open(path, "w") as f:
            json.dump(self.cases, f, indent=1)
        return path


def greedy_params(stop: int, steps: int):
    return {"uniforms": torch.full((steps,), 0.5), "stop_code": torch.tensor([stop]), "temperature": torch.tensor(1.0),
            "top_k": torch.tensor(1), "top_p": torch.tensor(1.0), "repetition_penalty": torch.tensor(1.0)}


@torch.no_grad()
def run_decode(m: Xtts, logits, latent, pos, seen, k, v, p: dict, max_steps: int):
    """The decode Loop's semantics in PyTorch: the reference for gpt_decode."""
    sampler = Sampler()
    codes, lats = [], []
    for i in range(max_steps):
        token, seen = sampler(logits.float(), seen, p["uniforms"][i], p["temperature"], p["top_k"], p["top_p"],
                              p["repetition_penalty"])
        codes.append(token)
        lats.append(latent.float())
        logits, latent, k, v = m.gpt.decode_step(token, pos, k, v)
        logits, latent, pos = logits.float(), latent.float(), pos + 1
        if int(token) == int(p["stop_code"]):
            break
    return {"codes": torch.stack(codes, 1) if codes else torch.zeros(1, 0, dtype=torch.long),
            "latents": torch.stack(lats, 1), "logits_out": logits, "latent_out": latent, "pos_out": pos,
            "seen_out": seen, "k_out": k, "v_out": v}


@torch.no_grad()
def build_cases(m: Xtts, graphs: List[str], w: CaseWriter, text_ids: torch.Tensor, mel: torch.Tensor,
                wav16k: torch.Tensor, decode_steps: int = 8, seed: int = 7,
                dtypes: Tuple[str, ...] = ("fp32", "fp16")) -> None:
    s = m.sizes
    g = torch.Generator().manual_seed(seed)
    dev = next(m.parameters()).device
    cond = m.gpt.style_embedding(mel.to(dev))
    if "cond_encoder" in graphs:
        w.add("cond_encoder", "cond_encoder.onnx", {"mel": mel}, {"cond": cond}, TOLERANCE["fp32"])
    if "speaker_encoder" in graphs:
        spk = m.hifigan_decoder.speaker_encoder(wav16k.to(dev))
        w.add("speaker_encoder", "speaker_encoder.onnx", {"wav16k": wav16k}, {"speaker": spk}, TOLERANCE["fp32"])
    else:
        spk = torch.nn.functional.normalize(torch.randn(1, s.d_vector_dim, generator=g), dim=1).to(dev)
    ids = text_ids.to(dev)
    logits, latent, k, v = m.gpt.prefill(cond, ids)
    seen = torch.zeros(1, s.gpt_num_audio_tokens, dtype=torch.bool, device=dev)
    seen[0, 1] = seen[0, s.gpt_start_audio_token] = True  # the dummy prompt ids Coqui's generate() penalises
    pos = torch.tensor([1], device=dev)
    stop = s.gpt_stop_audio_token
    for dtype in dtypes:
        tol = TOLERANCE[dtype]
        f16 = ("past_k", "past_v") if dtype == "fp16" else ()
        if "gpt_prefill" in graphs:
            exp = {"logits": logits, "latent": latent} if dtype == "fp16" else \
                {"logits": logits, "latent": latent, "present_k": k, "present_v": v}
            w.add(f"gpt_prefill_{dtype}", f"gpt_prefill_{dtype}.onnx", {"cond": cond, "text_ids": ids}, exp, tol)
        if "gpt_decode" in graphs:
            steps = decode_steps if dtype == "fp32" else 1
            p = {k2: t.to(dev) for k2, t in greedy_params(stop, steps).items()}
            ref = run_decode(m, logits, latent, pos, seen, k, v, p, steps)
            feeds = {"max_steps": torch.tensor(steps), "logits": logits, "latent": latent, "pos": pos, "seen": seen,
                     "past_k": k, "past_v": v, **p}
            keep = ["codes", "latents", "logits_out", "latent_out", "pos_out", "seen_out"]
            if dtype == "fp32":  # the cache, stacked back after the Loop's per-layer carry
                keep += ["k_out", "v_out"]
            w.add(f"gpt_decode_{dtype}_greedy", f"gpt_decode_{dtype}.onnx", feeds, {n: ref[n] for n in keep}, tol,
                  f16_inputs=f16)
            if dtype == "fp32":
                # Sampling with the released settings and fixed uniforms.
                ps = dict(p, uniforms=torch.rand(steps, generator=g).to(dev), temperature=torch.tensor(0.75, device=dev),
                          top_k=torch.tensor(50, device=dev), top_p=torch.tensor(0.85, device=dev),
                          repetition_penalty=torch.tensor(5.0, device=dev))
                ref = run_decode(m, logits, latent, pos, seen, k, v, ps, steps)
                w.add("gpt_decode_fp32_sampled", "gpt_decode_fp32.onnx", dict(feeds, **ps),
                      {n: ref[n] for n in keep}, tol)
    if "gpt_prefill" in graphs and "gpt_batch" in graphs:
        # Two prompts of different text lengths in one run, the shorter padded: the graph against the module
        # (test_prefill_batch.py checks each row against the batch-1 prefill).
        from .graphs import PrefillBatch
        short = ids[:, : max(2, ids.shape[1] // 2)].clone()
        short[0, -1] = s.gpt_stop_text_token
        pad = torch.full_like(ids, s.gpt_stop_text_token)
        pad[:, : short.shape[1]] = short
        two_ids = torch.cat([ids, pad], 0)
        two_len = torch.tensor([ids.shape[1], short.shape[1]], device=dev)
        two_cond = torch.cat([cond, cond.flip(1)], 0)
        pl, plat, pk, pv = PrefillBatch(m)(two_cond, two_ids, two_len)
        w.add("gpt_prefill_batch_fp32", "gpt_prefill_batch_fp32.onnx",
              {"cond": two_cond, "text_ids": two_ids, "text_len": two_len.cpu()},
              {"logits": pl, "latent": plat, "present_k": pk, "present_v": pv}, TOLERANCE["fp32"])
    if "hifigan" in graphs:
        lat = m.gpt.latents_for_codes(cond, ids, torch.randint(0, 1024, (1, 12), generator=g).to(dev))
        wav = m.hifigan_decoder(lat, spk.unsqueeze(-1))
        w.add("hifigan", "hifigan.onnx", {"latents": lat, "speaker": spk.unsqueeze(-1), "frames": torch.tensor(12)},
              {"wav": wav}, TOLERANCE["fp32"])
        # Padded to 20 frames with noise, 12 of them real: the graph's masking against the module's.
        pad = torch.cat([lat, torch.randn(1, 8, lat.shape[-1], generator=g).to(dev)], 1)
        wav_pad = m.hifigan_decoder(pad, spk.unsqueeze(-1), torch.tensor(12, device=dev))
        w.add("hifigan_padded", "hifigan.onnx", {"latents": pad, "speaker": spk.unsqueeze(-1), "frames": torch.tensor(12)},
              {"wav": wav_pad}, TOLERANCE["fp32"])
    if "hifigan_batch" in graphs:
        # Three rows of 12, 5 and 20 real frames, padded with noise to 20, each its own speaker: the batched
        # graph against the module (model/test_hifigan.py checks the module's rows against each row alone).
        lat = m.gpt.latents_for_codes(cond, ids, torch.randint(0, 1024, (1, 20), generator=g).to(dev))
        rows = torch.cat([lat, lat.flip(1), torch.randn(1, 20, lat.shape[-1], generator=g).to(dev)], 0)
        spks = torch.cat([spk, spk.flip(-1), 0.5 * spk], 0).unsqueeze(-1)
        frames = torch.tensor([12, 5, 20], device=dev)
        w.add("hifigan_batch", "hifigan_batch.onnx", {"latents": rows, "speaker": spks, "frames": frames.cpu()},
              {"wav": m.hifigan_decoder(rows, spks, frames)}, TOLERANCE["fp32"])
