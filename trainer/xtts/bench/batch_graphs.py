"""The GPT graphs a batched-decode benchmark needs, from a random-weight model of a chosen size:
gpt_prefill, gpt_decode and gpt_batch (fp32, and fp16 with --fp16), and the fixed-shape decode steps
gpt_step_static_fp32 (static_step.py) and gpt_step_static_fused_fp32 (static_fused.py), written into OUT_DIR with a small sizes.json (no model package:
inference/bench/batch.ts opens the files directly).

usage: python3 -m xtts.bench.batch_graphs OUT_DIR [--size tiny|small|full] [--fp16] [--fused] [--seed N]

--fused also writes gpt_batch_fused_* (the step from onnxruntime's fused operators, see fused.py).

`small` is 4 layers of width 256 (4 heads) with the release's position tables; `full` is XTTS-v2's
size (the export takes about 13 GB of memory). Run from trainer/."""
import argparse
import json
import os

import onnx

from ..export.graphs import export_batch, export_graphs
from ..fixtures.tiny import make_config
from ..model.config import sizes_from_config
from ..model.model import random_model

SIZES = {
    "tiny": {},
    "small": {"gpt_layers": 4, "gpt_n_model_channels": 256, "gpt_n_heads": 4, "decoder_input_dim": 256,
              "gpt_max_audio_tokens": 605, "gpt_max_text_tokens": 402},
    "full": None,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--size", choices=list(SIZES), default="small")
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--fused", action="store_true", help="also write gpt_batch_fused_*")
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args()
    cfg = make_config("full" if a.size == "full" else "tiny")
    cfg["model_args"].update(SIZES[a.size] or {})
    s = sizes_from_config(cfg)
    s.gpt_number_text_tokens = 256
    s.gpt_start_text_token, s.gpt_stop_text_token = 255, 0
    m = random_model(s, a.seed).eval()
    graphs = export_graphs(m, ["gpt_prefill", "gpt_decode", "gpt_batch"], fp16=a.fp16)
    if a.fused:
        graphs.update(export_batch(m, fp16=a.fp16, fused=True))
    os.makedirs(a.out, exist_ok=True)
    for stem, g in graphs.items():
        onnx.save(g, os.path.join(a.out, f"{stem}.onnx"))
    with open(os.path.join(a.out, "sizes.json"), "w") as f:
        json.dump({"size": a.size, "layers": s.gpt_layers, "width": s.gpt_n_model_channels, "heads": s.gpt_n_heads,
                   "text_tokens": s.gpt_number_text_tokens, "audio_start": s.gpt_start_audio_token,
                   "audio_stop": s.gpt_stop_audio_token, "vocab": s.gpt_num_audio_tokens,
                   "latents": s.perceiver_latents, "max_codes": s.max_gen_audio_tokens}, f, indent=1)
    print(f"wrote {a.out}: {', '.join(sorted(graphs))}")


if __name__ == "__main__":
    main()
