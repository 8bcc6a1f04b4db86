"""Model folder -> model package.

    python3 -m xtts.export MODEL_DIR OUT_DIR [--base BASE_PACKAGE] [--device cpu|cuda] [--int8] [--batch] [--force]

Reads a Coqui XTTS-v2 folder (model.pth, dvae.pth, mel_stats.pth, vocab.json, config.json), exports
the ONNX graphs, runs each one in onnxruntime-node on sample inputs against the PyTorch modules, and
only then moves the finished package into OUT_DIR (built in a sibling temp folder, renamed at the end,
so OUT_DIR either holds a checked package or nothing). With --base, the folder is a fine-tuned
checkpoint: only the GPT-side graphs are exported and the manifest names the base package for the rest.
With --int8, the package also gets the int8 CPU variant of the GPT graphs (see quantize.py). With
--batch, it also gets the batched decode graph, gpt_batch_fp32/fp16 (see BATCH_NOTE; not compared with
PyTorch here: inference/xtts/batch.test.ts checks it against gpt_decode on the tiny model), and the
fixed-shape decode step gpt_step_static_fp32 and its fused-operator variant gpt_step_static_fused_fp32
(see STATIC_NOTE; test_static_step.py checks both against gpt_batch, and the fused one against the plain one);
a base package also gets hifigan_batch, HiFi-GAN over several windows at once (each row its own speaker
and real length, `frames` [B]), checked against PyTorch as hifigan is.

Run from trainer/ (or with trainer/ on PYTHONPATH). NODE names the node binary (default: node)."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import onnx
import torch

from ..model.checkpoint import read_model_folder
from ..model.config import LANGUAGES, generation_from_config, sizes_dict
from .cases import TOLERANCE, CaseWriter, build_cases
from .digest import file_entry, file_sha256
from .graphs import OPSET, export_graphs
from .onnx_tools import io_spec
from .quantize import add_variants

FORMAT_VERSION = 1
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CHECKER = os.path.join(REPO, "inference", "runtime", "check-graphs.ts")
GPT_SIDE = ["cond_encoder", "gpt_prefill", "gpt_decode"]  # what fine-tuning changes (docs/xtts-v2-facts.md §7)
ALL = ["cond_encoder", "speaker_encoder", "gpt_prefill", "gpt_decode", "hifigan"]

DECODE_NOTE = (
    "onnxruntime-node returns every output to host memory, so a one-step decode graph would copy the whole "
    "KV cache over PCIe twice per code (measured 35-43 ms/code at 400 positions on an H100 against 12 ms "
    "inside a Loop). gpt_decode is therefore an ONNX Loop: each iteration samples a code from the carried "
    "logits (repetition penalty over `seen`, temperature, top-k, top-p, then an inverse-CDF draw with "
    "uniforms[i] from the caller's seeded RNG; greedy = top_k 1) and runs one GPT step, so the cache stays "
    "in the runtime for max_steps codes. It stops after emitting stop_code. Feed its *_out values back "
    "to continue (e.g. 20 codes per run when streaming). `latents[i]` is the hidden state that predicted "
    "codes[i] (HiFi-GAN input). `pos` is the audio position of the next input code (1 after prefill). "
    "`seen` starts with codes 1 and 1024 set: Coqui's generate() penalises its dummy prompt ids. Inside "
    "the Loop the given cache is split into layers once and only read; the Loop carries, per layer, only "
    "the positions the run adds, appended to past_k/past_v once after it: a step copies its run's "
    "positions, never the whole cache.")


BATCH_NOTE = (
    "gpt_batch is gpt_decode over B sequences in one run (continuous batching at run granularity). The KV "
    "cache is [layers, B, heads, P, head_dim], left-padded: row b holds its positions in columns "
    "[start[b], P), padded columns get no attention weight, and every iteration appends one column to all "
    "rows. Per row: its own uniforms[b, :], temperature, top_k, top_p, repetition_penalty, and steps[b] (at "
    "most that many codes). A row stops changing after its stop code or steps[b] codes; codes[b, i] is -1 "
    "after that, counts[b] is how many it produced, and its cache is columns [start[b], P + counts[b]) "
    "of k_out/v_out. The Loop ends when no row can go on.")


STATIC_NOTE = (
    "gpt_step_static is one iteration of gpt_batch's Loop over `slots` rows with fixed shapes, for a caller that "
    "keeps the state on the device and binds every state output X_out to its input X's buffer (in place; each "
    "output depends on every read of its input). Fix slots, max_len and chunk when the session opens "
    "(free-dimension overrides); then no shape is computed at run time. State: cache_k/cache_v [layers, slots, "
    "heads, max_len, head_dim] (row s's valid columns [0, length[s]); the columns past them must hold finite "
    "values, e.g. a zero-filled buffer), logits, latent, seen, pos, length, done, iter [1], codes [slots, chunk], "
    "latents [slots, chunk, width]; inputs uniforms [slots, chunk], steps, temperature, top_k, top_p, "
    "repetition_penalty. A row is active while !done, iter < steps, length < max_len and iter < chunk: it samples "
    "with uniforms[s, iter], writes codes[s, iter] and latents[s, iter] (the latent before the step), runs the GPT "
    "step attending to its columns [0, length) and its new K/V, writes that K/V to column length, and advances "
    "pos, length, logits, latent, seen; done when it emits the stop code (audio_stop, a constant of the graph). "
    "An inactive row keeps its state bit for bit and gets code -1. Every run advances iter by 1. "
    "gpt_step_static_fused has the same interface, its layers from onnxruntime's fused operators "
    "(MultiHeadAttention, SkipLayerNormalization, FastGelu; fewer kernels per step). gpt_step_static_inplace is "
    "the fused step with the cache as one input per layer, cache_k_<i>/cache_v_<i> [slots, heads, max_len, "
    "head_dim] (and cache_k_<i>_out ...), each layer writing its new K/V at column length before its attention "
    "reads the cache as it is: no copy of the cache per step (a caller holding one [layers, ...] buffer binds "
    "views of its layers). gpt_step_static_dmmha is the in-place step with DecoderMaskedMultiHeadAttention, which "
    "reads only columns [0, kv_past] of each row: more inputs kv_past (int32 [1], in host memory, a bound >= "
    "length of every row that holds a sequence, < max_len) and kv_total (int64 scalar, kv_past + 1), more outputs "
    "cache_k_<i>_present/cache_v_<i>_present bound to the cache's buffers too; it also writes column kv_past of "
    "every row (past its valid columns). Its K layout is its kernel's: [slots, heads, head_dim/4, max_len, 4] in a "
    "package exported for CUDA, [slots, heads, max_len, head_dim] for the CPU. A caller takes dmmha (of its "
    "device's layout), then inplace, then fused, then the plain step.")


def sample_inputs(sizes, start: int, stop: int, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    text_ids = torch.tensor([[start] + torch.randint(3, 40, (9,), generator=g).tolist() + [stop]])
    mel = torch.randn(1, 80, 140, generator=g) * 0.5 - 1.0
    t = torch.arange(24000) / 16000
    wav = 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(24000, generator=g)
    return text_ids, mel, wav.unsqueeze(0)


def run_checker(cases_path: str, report_path: str, device: str) -> list:
    node = os.environ.get("NODE", "node")
    env = dict(os.environ)
    if device == "cuda":
        # onnxruntime's CUDA provider multiplies fp32 in TF32 by default (about 1e-3 relative),
        # and onnxruntime-node cannot set its use_tf32 option. The reference runs with TF32 off,
        # so the check does too: it measures the export, not the tensor-core rounding.
        env["NVIDIA_TF32_OVERRIDE"] = "0"
    proc = subprocess.run([node, CHECKER, cases_path, report_path, "--device", device], capture_output=True,
                          text=True, env=env)
    sys.stdout.write(proc.stdout)
    if not os.path.isfile(report_path):
        raise RuntimeError(f"check-graphs.ts did not run: {proc.stderr.strip()[-2000:]}")
    with open(report_path) as f:
        return json.load(f)


def export_package(model_dir: str, out_dir: str, base: str = "", device: str = "cpu", force: bool = False,
                   extra_cases=None, int8: bool = False, fp16: bool = True, check: bool = True,
                   batch: bool = False) -> dict:
    """fp16=False leaves out the fp16 GPT graphs; check=False skips the comparison with PyTorch (for a
    package that is itself compared with a reference, as the fidelity check's are); batch=True adds the
    batched decode graph (gpt_batch) and the fixed-shape decode steps (gpt_step_static, gpt_step_static_fused)."""
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and not force:
        raise ValueError(f"{out_dir}: already exists (use --force to replace it)")
    base_manifest = None
    if base:
        bpath = os.path.join(base, "manifest.json")
        try:
            with open(bpath) as f:
                base_manifest = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{bpath}: not a readable base package manifest ({e})") from None
    cfg, sizes, model, _dvae, tok = read_model_folder(model_dir, gpt_only=bool(base))
    # A fine-tuned package shares its base's HiFi-GAN, the batched one too.
    want = (GPT_SIDE if base else ALL) + (["gpt_batch"] if batch else []) + (["hifigan_batch"] if batch and not base else [])
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
    checkdir = tempfile.mkdtemp(prefix="xtts-check-")
    try:
        t0 = time.time()
        # The DecoderMaskedMultiHeadAttention step's K layout is its kernel's: CUDA's for a CUDA package.
        graphs = export_graphs(model, want, fp16=fp16, dmmha_layout="ft" if device == "cuda" else "bnsh")
        files = {}
        for stem in list(graphs):
            path = os.path.join(tmp, f"{stem}.onnx")
            onnx.save(graphs[stem], path)
            # Checked from the file: a check of the in-memory model serializes it (1.5 GB at full size) once more.
            onnx.checker.check_model(path)
            graphs[stem] = _io_only(graphs[stem])  # the manifest needs only the inputs and outputs
        export_s = time.time() - t0
        # The vocabulary is copied byte for byte, so reference token ids made from the model
        # folder's file (named by its sha256) also name the package's.
        shutil.copyfile(os.path.join(model_dir, "vocab.json"), os.path.join(tmp, "vocab.json"))
        with open(os.path.join(tmp, "mel_stats.json"), "w") as f:
            json.dump([float(x) for x in model.mel_stats.tolist()], f)
        # Check: PyTorch reference on the same device as the runtime check when possible.
        dev = "cuda" if device == "cuda" and torch.cuda.is_available() else "cpu"
        if dev == "cuda":
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        reports, t1 = [], time.time()
        if check:
            model.to(dev)
            text_ids, mel, wav = sample_inputs(sizes, sizes.gpt_start_text_token, sizes.gpt_stop_text_token)
            w = CaseWriter(checkdir, os.path.relpath(tmp, checkdir))
            build_cases(model, want, w, text_ids, mel, wav, dtypes=("fp32", "fp16") if fp16 else ("fp32",))
            if extra_cases:
                extra_cases(model, w)
            model.cpu()
            t1 = time.time()
            reports = run_checker(w.save(), os.path.join(checkdir, "report.json"), device)
        check_s = time.time() - t1
        failed = [r for r in reports if not r["ok"]]
        if failed:
            lines = [f"{r['name']}: {r.get('error') or ', '.join(o['name'] + ' err ' + str(o['maxAbsErr']) + ' > ' + str(o['atol']) for o in r['outputs'] if not o['ok'])}"
                     for r in failed]
            raise RuntimeError("exported graphs disagree with PyTorch:\n  " + "\n  ".join(lines))
        manifest = make_manifest(cfg, sizes, tok, graphs, reports, device, base_manifest, base)
        manifest["export"] = {"seconds": round(export_s, 1), "check_seconds": round(check_s, 1),
                              "torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET}
        for name in sorted(os.listdir(tmp)):
            p = os.path.join(tmp, name)
            files[name] = file_entry(p)
        manifest["files"] = files
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        if int8:
            manifest = add_variants(tmp, ("int8",))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if os.path.exists(out_dir):
            old = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(out_dir, os.path.join(old, "pkg"))
            os.rename(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_dir)
        return manifest
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        shutil.rmtree(checkdir, ignore_errors=True)


def _io_only(g: onnx.ModelProto) -> onnx.ModelProto:
    """A graph's inputs (less its initializers) and outputs, without the weights."""
    inits = {t.name for t in g.graph.initializer}
    light = onnx.ModelProto()
    light.graph.input.extend(v for v in g.graph.input if v.name not in inits)
    light.graph.output.extend(g.graph.output)
    return light


def make_manifest(cfg, sizes, tok, graphs, reports, device, base_manifest, base_path) -> dict:
    by_graph = {}
    for r in reports:
        stem = os.path.basename(r["graph"])[: -len(".onnx")]
        by_graph.setdefault(stem, []).append({
            "case": r["name"], "device": device, "ms": round(r["ms"], 3),
            "outputs": {o["name"]: {"max_abs_err": o["maxAbsErr"], "tolerance": o["atol"]} for o in r["outputs"]}})
    gm = {}
    for stem, g in graphs.items():
        entry = {"file": f"{stem}.onnx", **io_spec(g), "checks": by_graph.get(stem, [])}
        if stem.startswith("gpt_"):
            entry["precision"] = stem.rsplit("_", 1)[1]
        if stem.startswith("gpt_decode"):
            entry["design"] = DECODE_NOTE
        if stem.startswith("gpt_batch"):
            entry["design"] = BATCH_NOTE
        if stem.startswith("gpt_step_static"):
            entry["design"] = STATIC_NOTE
        gm[stem] = entry
    special = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    m = {
        "format_version": FORMAT_VERSION,
        "kind": "fine-tuned" if base_manifest else "base",
        "model": {"name": "xtts-v2", "config": sizes_dict(sizes)},
        "sample_rates": {"conditioning": sizes.input_sample_rate, "speaker_encoder": 16000,
                         "output": sizes.output_sample_rate, "codes_per_second": sizes.input_sample_rate / sizes.gpt_code_stride_len},
        "languages": cfg.get("languages", LANGUAGES),
        "generation": generation_from_config(cfg),
        "tokens": {"text_start": sizes.gpt_start_text_token, "text_stop": sizes.gpt_stop_text_token,
                   "audio_start": sizes.gpt_start_audio_token, "audio_stop": sizes.gpt_stop_audio_token,
                   "max_text_tokens": sizes.gpt_max_text_tokens, "max_audio_codes": sizes.max_gen_audio_tokens,
                   "special": special},
        "features": {
            "conditioning_mel": {"sample_rate": 22050, "n_fft": 2048, "hop": 256, "win": 1024, "n_mels": 80,
                                 "f_max": 8000, "mel_norm": "slaney", "mel_scale": "htk", "log_clamp": 1e-5,
                                 "divide_by": "mel_stats.json"},
            "speaker_encoder_input": "16 kHz mono waveform in [-1, 1]; the mel front end is inside the graph"},
        "vocab": "vocab.json",
        "mel_stats": "mel_stats.json",
        "tolerances": {"scale": "max_abs_err <= tol * max(1, max|reference|)", **TOLERANCE},
        "graphs": gm,
    }
    if base_manifest:
        shared = {k: v for k, v in base_manifest.get("graphs", {}).items() if k not in gm}
        m["base"] = {"path": os.path.abspath(base_path), "manifest_sha256": file_sha256(os.path.join(base_path, "manifest.json")),
                     "graphs": sorted(shared)}
    return m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir")
    p.add_argument("out_dir")
    p.add_argument("--base", default="", help="base package for a fine-tuned checkpoint (GPT graphs only)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the check runs")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    p.add_argument("--int8", action="store_true", help="also write the int8 CPU variant of the GPT graphs")
    p.add_argument("--batch", action="store_true",
                   help="also write the batched graphs (gpt_batch, gpt_step_static, gpt_step_static_fused, hifigan_batch)")
    a = p.parse_args()
    try:
        m = export_package(a.model_dir, a.out_dir, a.base, a.device, a.force, int8=a.int8, batch=a.batch)
    except (ValueError, RuntimeError) as e:
        print(f"export failed: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {a.out_dir}: {len(m['graphs'])} graphs, {sum(f['bytes'] for f in m['files'].values()) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
