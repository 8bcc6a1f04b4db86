"""The exported graphs as small wrapper modules over the model, and their traced export.

Every graph has batch 1. GPT graphs exist in fp32 and fp16; fp16 graphs keep float32 at their
interface except for the KV cache, which never leaves the runtime's hands (TypeScript only passes it
from prefill to decode and from one decode run to the next)."""
import io
from typing import Dict, Optional, Sequence, Tuple

import onnx
import torch
from torch import nn

from ..model.model import Xtts
from ..model.sampler import Sampler
from .batch import BatchSampler, BatchStep
from .fused import fused_batch_step, fused_prefill
from .onnx_tools import DetachedWeights, decode_loop, decode_loop_batch, to_float16
from .static_fused import dmmha_step, fused_inplace_step, fused_static_step, xattn_step
from .static_step import static_batch_step

OPSET = 17


class CondEncoder(nn.Module):
    def __init__(self, m: Xtts):
        super().__init__()
        self.gpt = m.gpt

    def forward(self, mel):
        return self.gpt.style_embedding(mel)


class SpeakerEncoder(nn.Module):
    def __init__(self, m: Xtts):
        super().__init__()
        self.enc = m.hifigan_decoder.speaker_encoder

    def forward(self, wav16k):
        return self.enc(wav16k)


class Prefill(nn.Module):
    def __init__(self, m: Xtts):
        super().__init__()
        self.gpt = m.gpt

    def forward(self, cond, text_ids):
        return self.gpt.prefill(cond, text_ids)


class PrefillPrefix(nn.Module):
    """`gpt_prefill_prefix_fp32`: the prefill continued from keys and values already made (XttsGPT.prefill_after):
    cond [1, C, D], past_k / past_v [L, 1, H, P, dh], text_ids [1, T] (each of C, P, T may be 0) -> logits,
    latent, present_k / present_v [L, 1, H, P + C + T + 1, dh]. One graph, one copy of the GPT's weights, for
    both runs of a prompt whose voice's conditioning positions are kept: the conditioning alone (P = 0,
    T = 0; its first C columns are the voice's prefix), then the text after that prefix (C = 0)."""

    def __init__(self, m: Xtts):
        super().__init__()
        self.gpt = m.gpt

    def forward(self, cond, past_k, past_v, text_ids):
        return self.gpt.prefill_after(cond, past_k, past_v, text_ids)


class PrefillBatch(nn.Module):
    """The prefill of B prompts in one run, their text right-padded: cond [B, latents, D], text_ids [B, T]
    ([START] ids [STOP], then anything), text_len [B] (each row's real length, 1 <= text_len <= T) ->
    logits [B, V], latent [B, D], present_k / present_v [L, B, H, latents + T + 1, dh]. Row b's sequence is
    the batch-1 prefill's ([cond, its text, the audio start]) in its columns [0, latents + text_len[b] + 1),
    padding after them: the attention is causal, so no real position sees the padding, and logits and
    latent are taken at the row's own last position. The padding columns hold finite values (a caller may
    keep them past the row's length, where a step masks them)."""

    def __init__(self, m: Xtts):
        super().__init__()
        self.gpt = m.gpt

    def forward(self, cond, text_ids, text_len):
        g = self.gpt
        b, t = text_ids.shape
        cols = torch.arange(t + 1, device=text_ids.device)[None, :]  # [1, T + 1]: text positions, then one more
        n = text_len.reshape(-1, 1)
        ids = torch.cat([text_ids, torch.zeros_like(text_ids[:, :1])], dim=1)
        # Padding positions past the table read its last row: their values are never attended.
        pos = torch.clamp(cols, max=g.text_pos_embedding.emb.weight.shape[0] - 1)
        text = g.text_embedding(ids) + g.text_pos_embedding.emb(pos)
        audio = g.audio_start(text_ids.device)  # [1, 1, D]
        emb = torch.where((cols < n)[..., None], text,
                          torch.where((cols == n)[..., None], audio.expand_as(text), torch.zeros_like(text)))
        h, k, v = g.gpt(torch.cat([cond.to(text.dtype), emb], dim=1))
        last = (n + cond.shape[1]).reshape(-1, 1, 1).expand(b, 1, h.shape[-1])
        logits, latent = g.head(h.gather(1, last)[:, 0])
        return logits, latent, k, v


class Step(nn.Module):
    """One decode step with the KV cache one tensor per layer, in two parts, as the decode Loop holds
    it: (token, pos, frozen_k_0 .. frozen_k_{L-1}, frozen_v_0 .., past_k_0 .., past_v_0 ..) ->
    (logits_next, latent_next, present_k_0 .., present_v_0 ..), each [1, H, S, dh]. The frozen part
    (the positions before the run) is only read; present is past plus the new position."""

    def __init__(self, m: Xtts):
        super().__init__()
        self.gpt = m.gpt
        self.layers = m.sizes.gpt_layers

    def forward(self, token, pos, *cache):
        n = self.layers
        fk, fv, pk, pv = (list(cache[i * n:(i + 1) * n]) for i in range(4))
        logits, latent, k, v = self.gpt.decode_step_layers(token, pos, fk, fv, pk, pv)
        return (logits, latent, *k, *v)


def kv_names(prefix: str, layers: int):
    """The per-layer cache names of the step graph: prefix_k_0 .. prefix_k_{L-1}, prefix_v_0 .."""
    return [f"{prefix}_{kv}_{i}" for kv in "kv" for i in range(layers)]


class Hifigan(nn.Module):
    """`frames` (int64 scalar) is how many of the latents are real: a caller that pads the input up to a
    fixed length (to keep one shape per cuDNN plan) gets the unpadded run's samples up to
    256 * floor(4 * frames * 24000 / 22050), whatever the padding holds (HifiDecoder.forward)."""

    def __init__(self, m: Xtts):
        super().__init__()
        self.dec = m.hifigan_decoder

    def forward(self, latents, speaker, frames):
        return self.dec(latents, speaker, frames)


def _export(module: nn.Module, args: Tuple, inputs: Sequence[str], outputs: Sequence[str],
            dynamic: Dict[str, Dict[int, str]]) -> onnx.ModelProto:
    # The wrapper must be in eval mode: the exporter restores the wrapper's mode afterwards, and a fresh
    # nn.Module is in training mode, which would leave the model's BatchNorms using batch statistics.
    module.eval()
    buf = io.BytesIO()
    kw = dict(input_names=list(inputs), output_names=list(outputs), dynamic_axes=dynamic, opset_version=OPSET,
              do_constant_folding=True)
    if int(torch.__version__.split(".")[0]) >= 2:
        kw["dynamo"] = False  # the TorchScript exporter: the dynamo one handles these loops differently
    with torch.no_grad():
        torch.onnx.export(module, args, buf, **kw)
    return onnx.load_from_string(buf.getvalue())


def export_graphs(m: Xtts, want: Sequence[str], fp16: bool = True, dmmha_layout: str = "bnsh") -> Dict[str, onnx.ModelProto]:
    """want: names among cond_encoder, speaker_encoder, hifigan, hifigan_batch, gpt_prefill, gpt_decode, gpt_batch. Returns
    {file stem: model}, GPT graphs as `<name>_fp32` and (unless fp16 is False) `<name>_fp16`; gpt_batch also
    brings the fixed-shape steps `gpt_step_static_fp32` and `gpt_step_static_fused_fp32` (export_static; fp32 only).

    The GPT graphs are rebuilt around their traces (the decode Loop, fp16) with their weights detached
    (onnx_tools.DetachedWeights), and get them back at the end."""
    w = DetachedWeights()
    s = m.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // H
    out: Dict[str, onnx.ModelProto] = {}
    if "cond_encoder" in want:
        out["cond_encoder"] = _export(CondEncoder(m), (torch.randn(1, 80, 120),), ["mel"], ["cond"],
                                      {"mel": {2: "frames"}})
    if "speaker_encoder" in want:
        out["speaker_encoder"] = _export(SpeakerEncoder(m), (torch.randn(1, 16000) * 0.1,), ["wav16k"], ["speaker"],
                                         {"wav16k": {1: "samples"}})
    if "hifigan" in want:
        out["hifigan"] = _export(Hifigan(m), (torch.randn(1, 12, d), torch.randn(1, s.d_vector_dim, 1), torch.tensor(9)),
                                 ["latents", "speaker", "frames"], ["wav"], {"latents": {1: "codes"}, "wav": {2: "samples"}})
    if "hifigan_batch" in want:
        # The same decoder over B windows at once, each row its own speaker and real length (frames [B]):
        # what a server vocoding many streams runs, one run for the windows that wait together.
        out["hifigan_batch"] = _export(
            Hifigan(m), (torch.randn(2, 12, d), torch.randn(2, s.d_vector_dim, 1), torch.tensor([9, 12])),
            ["latents", "speaker", "frames"], ["wav"],
            {"latents": {0: "batch", 1: "codes"}, "speaker": {0: "batch"}, "frames": {0: "batch"},
             "wav": {0: "batch", 2: "samples"}})

    def kv_dyn(name, ax):
        return {3: ax}

    prefill = step = None
    if "gpt_prefill" in want:
        prefill = w.detach(_export(Prefill(m), (torch.randn(1, s.perceiver_latents, d), torch.tensor([[1, 2, 3, 4]])),
                          ["cond", "text_ids"], ["logits", "latent", "present_k", "present_v"],
                          {"text_ids": {1: "text"}, "present_k": kv_dyn("k", "prompt"), "present_v": kv_dyn("v", "prompt")}))
        out["gpt_prefill_fp32"] = prefill
    if "gpt_prefill" in want and "gpt_batch" in want:
        # Several streams' prompts in one run (a server's streams that arrive together).
        out["gpt_prefill_batch_fp32"] = w.detach(export_prefill_batch(m))
        # A prompt after its voice's kept conditioning positions (a server's prefix cache).
        out["gpt_prefill_prefix_fp32"] = w.detach(export_prefill_prefix(m))
        # The prefill from onnxruntime's fused operators (fewer nodes a run: INFERENCE_PREFILL_GRAPH=fused).
        out["gpt_prefill_fused_fp32"] = w.detach(fused_prefill(m.gpt))
    if "gpt_decode" in want:
        frozen, past, present = kv_names("frozen", L), kv_names("past", L), kv_names("present", L)
        step = w.detach(_export(Step(m), (torch.tensor([3]), torch.tensor([1]), *(torch.randn(1, H, 7, dh) for _ in frozen),
                                 *(torch.randn(1, H, 2, dh) for _ in past)),
                       ["token", "pos", *frozen, *past], ["logits_next", "latent_next", *present],
                       {**{n: {2: "frozen"} for n in frozen}, **{n: {2: "past"} for n in past},
                        **{n: {2: "total"} for n in present}}))
        v = s.gpt_num_audio_tokens
        sampler = _export(Sampler(), (torch.randn(1, v), torch.zeros(1, v, dtype=torch.bool), torch.tensor(0.5),
                                      torch.tensor(1.0), torch.tensor(50), torch.tensor(0.9), torch.tensor(2.0)),
                          ["logits", "seen", "u", "temperature", "top_k", "top_p", "repetition_penalty"],
                          ["token", "seen_next"], {})
        out["gpt_decode_fp32"] = decode_loop(_copy(sampler), _copy(step) if fp16 else step, onnx.TensorProto.FLOAT,
                                             "gpt_decode")
    if "gpt_decode" in want and fp16:
        step16 = to_float16(_copy(step), keep_f32=["logits_next", "latent_next"], weights=w)
        out["gpt_decode_fp16"] = decode_loop(_copy(sampler), step16, onnx.TensorProto.FLOAT16, "gpt_decode")
    if "gpt_batch" in want:
        out.update(export_batch(m, fp16, weights=w))
        out.update(export_static(m, dmmha_layout))
    if prefill is not None and fp16:
        out["gpt_prefill_fp16"] = to_float16(_copy(prefill), keep_f32=["cond", "logits", "latent"], weights=w)
    return {stem: w.attach(g) for stem, g in out.items()}


def export_prefill_prefix(m: Xtts) -> onnx.ModelProto:
    """`gpt_prefill_prefix_fp32`: PrefillPrefix, every length dynamic (and possibly 0)."""
    s = m.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    past = torch.randn(L, 1, H, 2, d // H)
    return _export(
        PrefillPrefix(m), (torch.randn(1, 3, d), past, torch.randn_like(past), torch.tensor([[1, 2, 3, 4]])),
        ["cond", "past_k", "past_v", "text_ids"], ["logits", "latent", "present_k", "present_v"],
        {"cond": {1: "cond"}, "past_k": {3: "past"}, "past_v": {3: "past"}, "text_ids": {1: "text"},
         "present_k": {3: "prompt"}, "present_v": {3: "prompt"}})


def export_prefill_batch(m: Xtts) -> onnx.ModelProto:
    """`gpt_prefill_batch_fp32`: PrefillBatch, B prompts of up to T text tokens in one run."""
    s = m.sizes
    return _export(
        PrefillBatch(m), (torch.randn(2, s.perceiver_latents, s.gpt_n_model_channels),
                          torch.tensor([[1, 2, 3, 4], [1, 2, 0, 0]]), torch.tensor([4, 2])),
        ["cond", "text_ids", "text_len"], ["logits", "latent", "present_k", "present_v"],
        {"cond": {0: "batch"}, "text_ids": {0: "batch", 1: "text"}, "text_len": {0: "batch"},
         "logits": {0: "batch"}, "latent": {0: "batch"},
         "present_k": {1: "batch", 3: "prompt"}, "present_v": {1: "batch", 3: "prompt"}})


def export_batch(m: Xtts, fp16: bool = True, fused: bool = False,
                 weights: Optional[DetachedWeights] = None) -> Dict[str, onnx.ModelProto]:
    """The batched decode graph (onnx_tools.decode_loop_batch): `gpt_batch_fp32` and, unless fp16 is
    False, `gpt_batch_fp16` (fp16 KV cache, float32 elsewhere at its interface, as gpt_decode_fp16).
    fused=True builds its step from onnxruntime's fused operators (fused.py) instead of the trace:
    `gpt_batch_fused_fp32` / `_fp16`, same interface. weights: where to detach the step's weights while
    the Loop is built (export_graphs passes its own and attaches them at its end); by default they are
    detached and attached here."""
    w = weights or DetachedWeights()
    s = m.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    v = s.gpt_num_audio_tokens
    pk = torch.randn(L, 2, H, 7, d // H)
    if fused:
        step = w.detach(fused_batch_step(m.gpt))
    else:
        step = w.detach(_export(BatchStep(m.gpt), (torch.tensor([3, 5]), torch.tensor([1, 4]), pk, torch.randn_like(pk),
                                          torch.tensor([2, 0])),
                       ["token", "pos", "past_k", "past_v", "start"],
                       ["logits_next", "latent_next", "present_k", "present_v"],
                       {"token": {0: "batch"}, "pos": {0: "batch"}, "start": {0: "batch"},
                        "past_k": {1: "batch", 3: "past"}, "past_v": {1: "batch", 3: "past"},
                        "present_k": {1: "batch", 3: "total"}, "present_v": {1: "batch", 3: "total"},
                        "logits_next": {0: "batch"}, "latent_next": {0: "batch"}}))
    sampler = batch_sampler(v)
    stem = "gpt_batch_fused" if fused else "gpt_batch"
    out = {f"{stem}_fp32": decode_loop_batch(_copy(sampler), _copy(step) if fp16 else step, onnx.TensorProto.FLOAT,
                                             stem)}
    if fp16:
        step16 = to_float16(step, keep_f32=["logits_next", "latent_next"], weights=w)
        out[f"{stem}_fp16"] = decode_loop_batch(sampler, step16, onnx.TensorProto.FLOAT16, stem)
    return out if weights is not None else {k: w.attach(g) for k, g in out.items()}


def batch_sampler(v: int) -> onnx.ModelProto:
    """The traced batch sampler (batch.BatchSampler) for a vocabulary of v codes: logits [B, V], seen, u [B],
    temperature, top_k, top_p, repetition_penalty [B] -> token [B], seen_next."""
    f, b = torch.tensor([1.0, 0.8]), {0: "batch"}
    return _export(BatchSampler(), (torch.randn(2, v), torch.zeros(2, v, dtype=torch.bool), torch.tensor([0.5, 0.2]),
                                    f, torch.tensor([50, 1]), torch.tensor([0.9, 1.0]), torch.tensor([2.0, 1.0])),
                   ["logits", "seen", "u", "temperature", "top_k", "top_p", "repetition_penalty"],
                   ["token", "seen_next"],
                   {"logits": b, "seen": b, "u": b, "temperature": b, "top_k": b, "top_p": b,
                    "repetition_penalty": b, "token": b, "seen_next": b})


def export_static(m: Xtts, dmmha_layout: str = "bnsh") -> Dict[str, onnx.ModelProto]:
    """The fixed-shape decode step: `gpt_step_static_fp32` (static_step.static_batch_step, plain ONNX
    operators) and `gpt_step_static_fused_fp32` (static_fused.fused_static_step, the same interface with
    the layers from onnxruntime's fused operators), and `gpt_step_static_inplace_fp32`
    (static_fused.fused_inplace_step: the fused layers over a cache of one input per layer, read and
    written in place, with no copy of the cache per step), and `gpt_step_static_dmmha_fp32`
    (static_fused.dmmha_step: the in-place step whose attention reads only the columns a chunk needs; K in
    `dmmha_layout`, "bnsh" for onnxruntime's CPU kernel, "ft" for its CUDA kernel), and
    `gpt_step_static_xattn_fp32` / `gpt_step_static_xattn_kv16_fp32` (static_fused.xattn_step: the in-place
    step on the addon's own attention, which reads each row to its own length, its cache fp32 / fp16; only
    the addon can open them)."""
    sampler = batch_sampler(m.sizes.gpt_num_audio_tokens)
    return {"gpt_step_static_fp32": static_batch_step(m.gpt, sampler),
            "gpt_step_static_fused_fp32": fused_static_step(m.gpt, sampler),
            "gpt_step_static_inplace_fp32": fused_inplace_step(m.gpt, sampler),
            "gpt_step_static_dmmha_fp32": dmmha_step(m.gpt, sampler, dmmha_layout),
            "gpt_step_static_xattn_fp32": xattn_step(m.gpt, sampler),
            "gpt_step_static_xattn_kv16_fp32": xattn_step(m.gpt, sampler, half=True)}


def _copy(m: onnx.ModelProto) -> onnx.ModelProto:
    c = onnx.ModelProto()
    c.CopyFrom(m)
    return c
