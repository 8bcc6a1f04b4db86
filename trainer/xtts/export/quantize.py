"""CPU variants of the GPT graphs (int8 weights, made from the fp32 graphs of a model package) and
of HiFi-GAN (int8 convolutions, statically quantized).

    python3 -m xtts.export.quantize PACKAGE_DIR [--precision int8|int4] [--merge-only]
                                    [--no-vocoder | --vocoder-only]

With int8, also hifigan_int8.onnx: HiFi-GAN with int8 convolutions, activation ranges calibrated on
the latents the package's own fp32 GPT makes (see HIFIGAN_CALIBRATION_SENTENCES); the engine opens
it only when asked (INFERENCE_VOCODER_PRECISION=int8).

Adds gpt_int8.onnx (and its weights, gpt_int8.onnx.data) to a package, or replaces them, and records
it in its manifest as both gpt_prefill_int8 and gpt_decode_int8; the fp32 graphs stay the reference. Every MatMul with a constant weight (the GPT's
attention and MLP projections, the mel head) gets 8-bit weights with one scale (and zero point) per output channel,
and its activations are quantized per run (onnxruntime's dynamic quantization: DynamicQuantizeLinear
+ MatMulInteger, which onnxruntime's CPU provider fuses into one int8 kernel). Why: one decode step
reads every GPT weight once, so on a CPU a step costs about the bytes of the weights over the memory
bandwidth; int8 weights are a quarter of fp32's bytes. Activation-by-activation MatMuls (attention
scores) and everything else stay fp32, so the KV cache and the graphs' interface are unchanged:
the engine feeds an int8 graph as it feeds the fp32 one.

The int8 prefill and decode are one graph (onnx_tools.share_gpt): the decode graph with the prefill
in an If, run when it is given text ids, and every weight the two share stored once in the outer
graph. Two graph files would each hold the whole GPT (two sessions, two copies in memory).

Run from trainer/ (or with trainer/ on PYTHONPATH)."""
import argparse
import json
import os
import sys
import tempfile

import onnx

from .digest import file_entry
from .onnx_tools import io_spec, share_gpt

PRECISIONS = ("int8", "int4")
GRAPHS = ("gpt_prefill", "gpt_decode")


def quantize_graph(src: str, dst: str, precision: str = "int8") -> None:
    """Writes the int8-weight version of the fp32 graph at src to dst (the Loop body included)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "int4":
        _quantize_int4(src, dst)
        return
    # onnxruntime's own quantization tool (the same project as the runtime that runs the result).
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(
        src, dst,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        # Unsigned 8-bit weights (asymmetric, with a zero point per channel), so activations and
        # weights are both u8: on x86 CPUs without VNNI (AVX2 only, as many laptops are)
        # onnxruntime's u8 x s8 kernel sums pairs of products into int16 (VPMADDUBSW) and saturates
        # with 8-bit signed weights; its u8 x u8 kernel widens to 16 bits first and cannot. Measured
        # on such a CPU (AMD EPYC, AVX2), tiny model, top-1 agreement with fp32 over 320 steps:
        # s8 weights 90.9 %, s8 in a 7-bit range (reduce_range) 96.3 %, u8 weights 99.1 %.
        weight_type=QuantType.QUInt8,
        # Only weights: attention's activation x activation MatMuls stay fp32; the decode graph's
        # GPT step lives in its Loop body (a subgraph).
        extra_options={"MatMulConstBOnly": True, "EnableSubgraph": True},
    )


INT4_BLOCK = 32


def _quantize_int4(src: str, dst: str) -> None:
    """4-bit weights (onnxruntime's MatMulNBits): every MatMul with a constant weight, the Loop
    body's included, gets symmetric 4-bit weights with one fp32 scale per block of INT4_BLOCK input
    rows of each output column. accuracy_level 4: the CPU kernel quantizes each activation block to
    int8 at run time and multiplies in int8, onnxruntime's fast path for 4-bit weights on x86 and
    ARM. Half of int8's bytes per weight, so on a CPU, where a decode step costs about the bytes
    of the weights over the memory bandwidth, fewer bytes read per code."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(src), bits=4, block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=4)
    q.process()
    onnx.save(q.model.model, dst)


# HiFi-GAN's int8 variant: static quantization (activation ranges fixed from calibration runs),
# because a vocoder is compute-bound, not weight-bound: its convolutions multiply every weight
# thousands of times per run, so only int8 arithmetic (onnxruntime's QLinearConv, fused from the
# QDQ pairs) makes it cheaper; dynamic quantization (ConvInteger, activations quantized per run)
# measured 0.93x fp32's time on an AVX-512 VNNI CPU, static 0.39x. The 1-frame convolutions over
# the speaker embedding and the last convolution (32 channels to the waveform) stay fp32: they cost
# nothing and the last one sets the output's precision. ConvTranspose (the upsamplers) has no
# quantized CPU kernel and stays fp32 too.
HIFIGAN_CALIBRATION_SENTENCES = [
    ("en", "hello, world! this is a test of the voice."),
    ("es", "hola, ¿cómo estás? buenos días a todos."),
    ("de", "guten morgen, schöne grüße aus köln."),
    ("fr", "bonjour, le monde! ça va très bien, merci."),
]
HIFIGAN_CALIBRATION_CODES = 48

QUANTIZATION = {
    "int8": {"method": "onnxruntime.quantization.quantize_dynamic",
             "weights": "uint8, per output channel, asymmetric (zero point per channel)",
             "activations": "int8 per run (dynamic)", "ops": ["MatMul"]},
    "int4": {"method": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer (MatMulNBits)",
             "weights": f"4-bit, symmetric, one scale per block of {INT4_BLOCK} input rows per output column",
             "activations": "int8 per block at run time (accuracy_level 4)", "ops": ["MatMul"]},
    "hifigan_int8": {"method": "onnxruntime.quantization.quantize_static (QDQ, MinMax calibration)",
                     "weights": "int8 in a 7-bit range (reduce_range), per output channel, symmetric",
                     "activations": "uint8, one range per tensor, fixed by calibration",
                     "ops": ["Conv"],
                     "calibration": "latents of the package's own fp32 GPT for "
                                    f"{len(HIFIGAN_CALIBRATION_SENTENCES)} sentences, "
                                    f"{HIFIGAN_CALIBRATION_CODES} sampled codes each; unit-norm speaker vectors"},
}


def _hifigan_calibration(pkg: str, manifest: dict, seed: int = 0) -> list:
    """HiFi-GAN inputs as the engine feeds it: the latents the package's own fp32 GPT makes for a
    few sentences (sampled with the package's generation settings), with unit-norm speaker
    embeddings (the speaker encoder's output is L2-normalised). The GPT's conditioning comes from a
    standard-normal (normalised) mel: its final LayerNorm sets the latents' scale whatever the voice."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    graphs = manifest["graphs"]
    tok = manifest["tokens"]
    gen = manifest["generation"]
    vocab_size = manifest["model"]["config"]["gpt_num_audio_tokens"]
    rng = np.random.default_rng(seed)
    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = False

    def session(name):
        return ort.InferenceSession(os.path.join(pkg, graphs[name]["file"]), so, providers=["CPUExecutionProvider"])

    cond_encoder = session("cond_encoder")
    cond = cond_encoder.run(None, {"mel": rng.standard_normal((1, 80, 300), dtype=np.float32)})[0]
    del cond_encoder
    tokenizer = Tokenizer.from_file(os.path.join(pkg, manifest["vocab"]))
    prefill, decode = session("gpt_prefill_fp32"), session("gpt_decode_fp32")
    feeds = []
    for lang, text in HIFIGAN_CALIBRATION_SENTENCES:
        ids = [tok["text_start"], *tokenizer.encode(f"[{lang}]{text}").ids, tok["text_stop"]]
        logits, latent, k, v = prefill.run(None, {"cond": cond, "text_ids": np.array([ids], dtype=np.int64)})
        seen = np.zeros((1, vocab_size), dtype=bool)
        seen[0, [1, tok["audio_start"]]] = True
        out = decode.run(["latents"], {
            "max_steps": np.array(HIFIGAN_CALIBRATION_CODES, dtype=np.int64),
            "logits": logits, "latent": latent, "pos": np.array([1], dtype=np.int64), "seen": seen,
            "past_k": k, "past_v": v,
            "uniforms": rng.random(HIFIGAN_CALIBRATION_CODES, dtype=np.float32),
            "stop_code": np.array([tok["audio_stop"]], dtype=np.int64),
            "temperature": np.array(gen["temperature"], dtype=np.float32),
            "top_k": np.array(gen["top_k"], dtype=np.int64),
            "top_p": np.array(gen["top_p"], dtype=np.float32),
            "repetition_penalty": np.array(gen["repetition_penalty"], dtype=np.float32),
        })[0]
        speaker = rng.standard_normal((1, manifest["model"]["config"]["d_vector_dim"], 1)).astype(np.float32)
        speaker /= np.linalg.norm(speaker)
        feeds.append({"latents": out.astype(np.float32), "speaker": speaker,
                      "frames": np.array(out.shape[1], dtype=np.int64)})
    return feeds


def quantize_hifigan(src: str, dst: str, calibration: list) -> None:
    """Writes HiFi-GAN with int8 convolutions (QDQ; see HIFIGAN_CALIBRATION_SENTENCES' comment) to dst."""
    import onnx as _onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.items = iter(calibration)

        def get_next(self):
            return next(self.items, None)

    graph = _onnx.load(src, load_external_data=False).graph
    inputs = {i.name for i in graph.input}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    # Convolutions over the speaker embedding (fed by the graph input) and the last one stay fp32.
    keep = [n.name for n in convs if n.input[0] in inputs] + [convs[-1].name]
    quantize_static(
        src, dst, Feeds(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["Conv"],
        nodes_to_exclude=keep,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        # Signed weights in a 7-bit range. Signed, because onnxruntime's QLinearConv is fast only
        # as u8 x s8 (on an AVX-512 VNNI CPU, 100 codes of the full-size HiFi-GAN: u8 weights 1.39 s,
        # no faster than fp32's 1.60 s; s8 0.76 s). A 7-bit range, because without VNNI (AVX2
        # laptops) the u8 x s8 kernel sums pairs of products in int16 (VPMADDUBSW) and 8-bit signed
        # weights can saturate it (see quantize_graph); 255 x 63 x 2 cannot. Measured beside full
        # 8-bit s8: 0.59 s, waveform SNR against fp32 26.7 dB (29.0 with 8 bits).
        weight_type=QuantType.QInt8,
        reduce_range=True,
    )


def add_hifigan_int8(pkg: str, manifest: dict) -> None:
    """Adds hifigan_int8.onnx to the package folder and its entry to `manifest` (written by the caller)."""
    ref = manifest["graphs"].get("hifigan")
    if ref is None:
        raise ValueError(f"{pkg}: manifest has no hifigan graph to quantize (a fine-tuned package uses its "
                         "base's HiFi-GAN: quantize the base)")
    for g in ("cond_encoder", "gpt_prefill_fp32", "gpt_decode_fp32"):
        if g not in manifest["graphs"]:
            raise ValueError(f"{pkg}: manifest has no {g} graph, needed to calibrate HiFi-GAN's int8 variant")
    file = "hifigan_int8.onnx"
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=pkg) as work:
        out = os.path.join(work, file)
        quantize_hifigan(os.path.join(pkg, ref["file"]), out, _hifigan_calibration(pkg, manifest))
        model = onnx.load(out)
        onnx.checker.check_model(model)
        spec = io_spec(model)
        os.replace(out, os.path.join(pkg, file))
        os.chmod(os.path.join(pkg, file), 0o644)
    entry = {k: v for k, v in ref.items() if k not in ("checks", "file", "precision", "inputs", "outputs")}
    entry.update({"file": file, **spec, "precision": "int8",
                  "quantization": {**QUANTIZATION["hifigan_int8"], "from": ref["file"]}})
    manifest["graphs"]["hifigan_int8"] = entry
    manifest["files"][file] = file_entry(os.path.join(pkg, file))


def add_variants(pkg: str, precisions=PRECISIONS, merge_only: bool = False, vocoder: bool = True,
                 gpt: bool = True) -> dict:
    """Adds the quantized GPT graphs to the package folder pkg and rewrites its manifest.json
    (written beside it and renamed, so the manifest is never half-written). merge_only: the package
    already has the variant as one file per graph (the earlier layout); make the shared graph from
    those files as they are, without quantizing again. vocoder: with int8, also HiFi-GAN's int8
    variant (hifigan_int8); gpt=False adds only that."""
    mpath = os.path.join(pkg, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    for precision in precisions if gpt else ():
        refs = {}
        for g in GRAPHS:
            refs[g] = manifest["graphs"].get(f"{g}_fp32")
            if refs[g] is None:
                raise ValueError(f"{pkg}: manifest has no {g}_fp32 graph to quantize")
        file = f"gpt_{precision}.onnx"
        with tempfile.TemporaryDirectory(prefix=".quantize-", dir=pkg) as work:
            parts = {}
            for g in GRAPHS:
                if merge_only:
                    have = manifest["graphs"].get(f"{g}_{precision}", {}).get("file")
                    if not have or have == file or not os.path.isfile(os.path.join(pkg, have)):
                        raise ValueError(f"{pkg}: no separate {g}_{precision} graph file to merge")
                    parts[g] = os.path.join(pkg, have)
                else:
                    parts[g] = os.path.join(work, f"{g}.onnx")
                    quantize_graph(os.path.join(pkg, refs[g]["file"]), parts[g], precision)
            merged = share_gpt(onnx.load(parts["gpt_prefill"]), onnx.load(parts["gpt_decode"]), f"gpt_{precision}")
            onnx.checker.check_model(merged)
            spec = io_spec(merged)
            # The weights in a file beside the graph: onnxruntime maps such a file instead of reading
            # the weights onto the heap, so pages it has pre-packed or never reads take no memory.
            data = f"{file}.data"
            onnx.save(merged, os.path.join(work, file), save_as_external_data=True, all_tensors_to_one_file=True,
                      location=data, size_threshold=1024)
            for f in (data, file):
                os.replace(os.path.join(work, f), os.path.join(pkg, f))
                os.chmod(os.path.join(pkg, f), 0o644)
        for g in GRAPHS:
            stem = f"{g}_{precision}"
            old = manifest["graphs"].get(stem, {}).get("file")
            if old and old != file:  # the earlier layout: one file per graph
                manifest["files"].pop(old, None)
                if os.path.exists(os.path.join(pkg, old)):
                    os.remove(os.path.join(pkg, old))
            entry = {k: v for k, v in refs[g].items() if k not in ("checks", "file", "precision", "inputs", "outputs")}
            entry.update({"file": file, "external_data": [data], **spec, "precision": precision,
                          "quantization": {**QUANTIZATION[precision],
                                           "from": [refs[x]["file"] for x in GRAPHS],
                                           "layout": "prefill and decode in one graph, each weight once "
                                                     "(onnx_tools.share_gpt)"}})
            manifest["graphs"][stem] = entry
        for f in (file, data):
            manifest["files"][f] = file_entry(os.path.join(pkg, f))
    # A fine-tuned package has no HiFi-GAN of its own (it opens its base's, and the base's
    # hifigan_int8 with it): only --vocoder-only asks for one there, and is refused.
    if vocoder and "int8" in precisions and not merge_only and ("hifigan" in manifest["graphs"] or not gpt):
        add_hifigan_int8(pkg, manifest)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=pkg)
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
    os.chmod(tmp, 0o644)
    os.replace(tmp, mpath)
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("package")
    p.add_argument("--precision", action="append", choices=PRECISIONS,
                   help="variant to add (repeatable; default: int8)")
    p.add_argument("--merge-only", action="store_true",
                   help="merge the package's existing per-graph variant files into one graph, without quantizing")
    p.add_argument("--no-vocoder", action="store_true", help="int8: leave HiFi-GAN's int8 variant out")
    p.add_argument("--vocoder-only", action="store_true", help="int8: add only HiFi-GAN's int8 variant")
    a = p.parse_args()
    try:
        wanted = tuple(a.precision or ("int8",))
        m = add_variants(a.package, wanted, a.merge_only, vocoder=not a.no_vocoder, gpt=not a.vocoder_only)
    except (ValueError, OSError) as e:
        print(f"quantize failed: {e}", file=sys.stderr)
        sys.exit(1)
    added = [k for k, v in m["graphs"].items() if v.get("precision") in wanted and "quantization" in v
             and (not a.vocoder_only or k.startswith("hifigan"))]
    print(f"{a.package}: {', '.join(sorted(added))}")


if __name__ == "__main__":
    main()
