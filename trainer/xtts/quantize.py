"""CPU variants of the GPT graphs: int8 weights, made from the fp32 graphs of a model package.

    python3 -m xtts.quantize PACKAGE_DIR [--precision int8]

Adds gpt_prefill_int8.onnx and gpt_decode_int8.onnx to a package (or replaces them) and records them
in its manifest; the fp32 graphs stay the reference. Every MatMul with a constant weight (the GPT's
attention and MLP projections, the mel head) gets int8 weights with one scale per output channel,
and its activations are quantized per run (onnxruntime's dynamic quantization: DynamicQuantizeLinear
+ MatMulInteger, which onnxruntime's CPU provider fuses into one int8 kernel). Why: one decode step
reads every GPT weight once, so on a CPU a step costs about the bytes of the weights over the memory
bandwidth; int8 weights are a quarter of fp32's bytes. Activation-by-activation MatMuls (attention
scores) and everything else stay fp32, so the KV cache and the graphs' interface are unchanged:
the engine feeds an int8 graph exactly as it feeds the fp32 one.

Run from trainer/ (or with trainer/ on PYTHONPATH)."""
import argparse
import hashlib
import json
import os
import sys
import tempfile

import onnx

PRECISIONS = ("int8",)
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
    # onnxruntime's own quantization tool (the same project as the runtime that runs the result).
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(
        src, dst,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        # Only weights: attention's activation x activation MatMuls stay fp32; the decode graph's
        # GPT step lives in its Loop body (a subgraph).
        extra_options={"MatMulConstBOnly": True, "EnableSubgraph": True},
    )


def add_variants(pkg: str, precisions=PRECISIONS) -> dict:
    """Adds the quantized GPT graphs to the package folder pkg and rewrites its manifest.json
    (written beside it and renamed, so the manifest is never half-written)."""
    mpath = os.path.join(pkg, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    for precision in precisions:
        for g in GRAPHS:
            ref = manifest["graphs"].get(f"{g}_fp32")
            if ref is None:
                raise ValueError(f"{pkg}: manifest has no {g}_fp32 graph to quantize")
            stem = f"{g}_{precision}"
            out = os.path.join(pkg, f"{stem}.onnx")
            quantize_graph(os.path.join(pkg, ref["file"]), out, precision)
            onnx.checker.check_model(out)
            entry = {k: v for k, v in ref.items() if k not in ("checks", "file", "precision")}
            entry.update({"file": f"{stem}.onnx", "precision": precision,
                          "quantization": {"method": "onnxruntime.quantization.quantize_dynamic",
                                           "weights": "int8, per output channel, symmetric",
                                           "activations": "int8 per run (dynamic)", "ops": ["MatMul"],
                                           "from": ref["file"]}})
            manifest["graphs"][stem] = entry
            manifest["files"][entry["file"]] = {"sha256": _sha256(out), "bytes": os.path.getsize(out)}
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
                   help="variant to add (repeatable; default: all)")
    a = p.parse_args()
    try:
        m = add_variants(a.package, tuple(a.precision or PRECISIONS))
    except (ValueError, OSError) as e:
        print(f"quantize failed: {e}", file=sys.stderr)
        sys.exit(1)
    added = [k for k, v in m["graphs"].items() if v.get("precision") in (a.precision or PRECISIONS)]
    print(f"{a.package}: {', '.join(sorted(added))}")


if __name__ == "__main__":
    main()
