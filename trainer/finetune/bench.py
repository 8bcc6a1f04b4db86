"""Training throughput of the fine-tuning step (features, DVAE codes, forward, backward, AdamW) at
full size with random weights, on CUDA when present; on a machine without a GPU, the tiny model on
the CPU so the code path still runs.

    python -m finetune.bench [--size full|tiny] [--batch 8] [--steps 20] [--warmup 3]
    torchrun --standalone --nproc_per_node N -m finetune.bench ...   (DDP: --batch per GPU; rank 0 prints
                                                                      the aggregate samples/s of all GPUs)

Settings measured: fp32, bf16 and fp16 (GradScaler) at --batch with grad_accum 1, bf16 with gradient
checkpointing, and Coqui's recipe (fp32, batch 3, grad_accum 84: one optimizer step per 84 micro-batches, timed
separately and amortised). Clips are synthetic, 3-11.6 s uniform (the dataset builder's range), with
about 15 text tokens per second. Prints one JSON line per setting on stdout."""
import argparse
import json
import math
import os
import sys
import time

import torch

from xtts.fixtures.tiny import make_config
from xtts.model.config import sizes_from_config
from xtts.model.dvae import DiscreteVAE
from xtts.model.model import random_model

from .audio import conditioning_mel, dvae_mel
from .data import COND_MAX, conditioning_slice
from .loop import TrainStep
from .setup import optimizer_and_scheduler

SR = 22050


def synthetic_batch(g: torch.Generator, b: int, max_wav: int, n_text: int, max_text: int):
    lengths = torch.randint(min(3 * SR, max_wav // 2), max_wav + 1, (b,), generator=g)
    n = int(lengths.max())
    t = torch.arange(n) / SR
    wav = torch.zeros(b, n)
    cond = torch.zeros(b, COND_MAX)
    idxs = torch.zeros(b, 2, dtype=torch.long)
    tl = torch.clamp((lengths.float() / SR * 15).long(), 2, max_text)
    text = torch.zeros(b, int(tl.max()), dtype=torch.long)
    for i, ln in enumerate(lengths.tolist()):
        f0 = 100 + 150 * float(torch.rand(1, generator=g))
        w = 0.3 * torch.sin(2 * math.pi * f0 * t[:ln]) + 0.05 * torch.randn(ln, generator=g)
        wav[i, :ln] = w
        s, e = conditioning_slice(ln, g)
        cond[i, :e - s] = w[s:e]
        idxs[i] = torch.tensor([s, e])
        text[i, :int(tl[i])] = torch.randint(3, min(n_text, 250), (int(tl[i]),), generator=g)
    return wav, lengths, text, tl, cond, idxs


def bench_setting(name, gpt, dvae, dmel, cmel, sizes, dev, batch, accum, precision, ckpt, steps, warmup, max_wav,
                  world=1):
    cfg = {"weight_decay": 0.01, "lr": 5e-6, "betas": [0.9, 0.96], "eps": 1e-8, "milestones": [900000], "gamma": 0.5}
    opt, _ = optimizer_and_scheduler(gpt, cfg)
    amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision) if dev.type == "cuda" else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    g = torch.Generator().manual_seed(5)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    gpt.train()
    # The trainer's own DDP wrapper, so gradients are all-reduced exactly as in a real run.
    step_fn = TrainStep(gpt, {"prompt_masking": "coqui", "gradient_checkpointing": ckpt})
    if world > 1:
        step_fn = torch.nn.parallel.DistributedDataParallel(step_fn, device_ids=[dev.index] if cuda else None)
    g.manual_seed(5 + (torch.distributed.get_rank() if world > 1 else 0))
    samples, audio_s, t_micro = 0, 0.0, 0.0
    for i in range(warmup + steps):
        wav, wl, text, tl, cond_wav, idxs = synthetic_batch(g, batch, max_wav, sizes.gpt_number_text_tokens,
                                                             sizes.gpt_max_text_tokens)
        sync()
        t0 = time.perf_counter()
        with torch.no_grad():
            w = wav.to(dev)
            codes = dvae.codes(dmel(w))
            cm = cmel(cond_wav.to(dev))
        with torch.autocast(device_type=dev.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = step_fn(cm, text.to(dev), tl.to(dev), codes, wl.to(dev), idxs, 0.1)
            loss = 0.01 * out["text"] + out["mel"]
        scaler.scale(loss / accum).backward()
        last_loss = float(loss)
        if accum == 1:
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
        sync()
        if i >= warmup:
            t_micro += time.perf_counter() - t0
            samples += batch
            audio_s += float(wl.sum()) / SR
    t_opt = 0.0
    if accum > 1:  # one optimizer step, amortised over the accumulation
        sync()
        t0 = time.perf_counter()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sync()
        t_opt = time.perf_counter() - t0
    total = t_micro + t_opt * steps / accum
    if world > 1:  # every GPU works on its own samples: the aggregate is their sum over the slowest time
        t = torch.tensor([samples, audio_s, total], dtype=torch.float64, device=dev)
        tot = t.clone()
        torch.distributed.all_reduce(tot)
        torch.distributed.all_reduce(t[2:], op=torch.distributed.ReduceOp.MAX)
        samples, audio_s, total = float(tot[0]), float(tot[1]), float(t[2])
    audio_per_s = audio_s / total
    return {"setting": name, "gpus": world, "device": torch.cuda.get_device_name(dev) if cuda else "cpu", "precision": precision,
            "batch_size": batch, "grad_accum": accum, "gradient_checkpointing": ckpt,
            "samples_per_s": round(samples / total, 3), "audio_seconds_per_s": round(audio_per_s, 2),
            "epoch_seconds_per_audio_hour": round(3600 / audio_per_s, 1),
            "peak_gpu_mem_mb": round(torch.cuda.max_memory_allocated(dev) / 2 ** 20) if cuda else None,
            "optimizer_step_s": round(t_opt, 4) if accum > 1 else None, "measured_micro_batches": steps,
            "last_loss": round(last_loss, 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=["full", "tiny"], default="")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--only", default="", help="comma-separated setting names, run in that order (repeats allowed)")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(dev)
    if world > 1:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    main_rank = not world > 1 or torch.distributed.get_rank() == 0
    size = a.size or ("full" if cuda else "tiny")
    batch, steps, warmup = a.batch or (8 if cuda else 2), a.steps or (20 if cuda else 3), a.warmup or (3 if cuda else 1)
    if cuda:  # measure fp32 as fp32, not TF32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    cfg = make_config(size)
    sizes = sizes_from_config(cfg)
    sizes.gpt_number_text_tokens, sizes.gpt_start_text_token, sizes.gpt_stop_text_token = \
        (6681, 261, 0) if size == "full" else (129, 115, 0)
    model = random_model(sizes, 1234)
    gpt = model.gpt.to(dev)
    torch.manual_seed(1235)
    dvae = DiscreteVAE(sizes).to(dev).eval().requires_grad_(False)
    dmel, cmel = dvae_mel(model.mel_stats).to(dev), conditioning_mel(model.mel_stats).to(dev)
    max_wav = min(255995, (sizes.gpt_max_audio_tokens - 2) * 1024)  # the tiny model holds about 2.7 s
    settings = [("fp32", batch, 1, "fp32", False), ("bf16", batch, 1, "bf16", False),
                ("bf16+checkpointing", batch, 1, "bf16", True), ("coqui-recipe", 3, 84, "fp32", False),
                ("fp16", batch, 1, "fp16", False)]
    by_name = {s[0]: s for s in settings}
    if a.only:
        settings = [by_name[n] for n in a.only.split(",")]
    say = (lambda r: print(json.dumps(r), flush=True)) if main_rank else (lambda r: None)
    say({"model": size, "gpt_params_m": round(sum(x.numel() for x in gpt.parameters()) / 1e6, 1),
                      "torch": torch.__version__, "device": str(dev), "gpus": world})
    for name, b, acc, prec, ck in settings:
        if not cuda and prec != "fp32":
            say({"setting": name, "skipped": f"{prec} autocast runs on CUDA only"})
            continue
        try:
            r = bench_setting(name, gpt, dvae, dmel, cmel, sizes, dev, b, acc, prec, ck, steps, warmup, max_wav, world)
        except torch.cuda.OutOfMemoryError as e:
            r = {"setting": name, "error": "OUT_OF_MEMORY", "message": str(e).split("\n")[0]}
        gpt.zero_grad(set_to_none=True)
        say(r)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
