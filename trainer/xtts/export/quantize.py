"""CPU variants of the GPT graphs: int8 weights, made from the fp32 graphs of a model package.

    python3 -m xtts.export.quantize PACKAGE_DIR [--precision int8] [--merge-only]

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
import hashlib
import json
import os
import sys
import tempfile

import onnx

from .onnx_tools import io_spec, share_gpt

PRECISIONS = ("int8", "int4")
GRAPHS = ("gpt_prefill", "gpt_decode")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


QUANTIZATION = {
    "int8": {"method": "onnxruntime.quantization.quantize_dynamic",
             "weights": "uint8, per output channel, asymmetric (zero point per channel)",
             "activations": "int8 per run (dynamic)", "ops": ["MatMul"]},
    "int4": {"method": "onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer (MatMulNBits)",
             "weights": f"4-bit, symmetric, one scale per block of {INT4_BLOCK} input rows per output column",
             "activations": "int8 per block at run time (accuracy_level 4)", "ops": ["MatMul"]},
}


def add_variants(pkg: str, precisions=PRECISIONS, merge_only: bool = False) -> dict:
    """Adds the quantized GPT graphs to the package folder pkg and rewrites its manifest.json
    (written beside it and renamed, so the manifest is never half-written). merge_only: the package
    already has the variant as one file per graph (the earlier layout); make the shared graph from
    those files as they are, without quantizing again."""
    mpath = os.path.join(pkg, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    for precision in precisions:
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
            manifest["files"][f] = {"sha256": _sha256(os.path.join(pkg, f)), "bytes": os.path.getsize(os.path.join(pkg, f))}
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
    a = p.parse_args()
    try:
        wanted = tuple(a.precision or ("int8",))
        m = add_variants(a.package, wanted, a.merge_only)
    except (ValueError, OSError) as e:
        print(f"quantize failed: {e}", file=sys.stderr)
        sys.exit(1)
    added = [k for k, v in m["graphs"].items() if v.get("precision") in wanted]
    print(f"{a.package}: {', '.join(sorted(added))}")


if __name__ == "__main__":
    main()
